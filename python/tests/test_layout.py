"""The ctypes structs match faceau.h: a C program compiled against the header prints every
struct's size and each field's offset, and the binding's must be the same."""
import os
import shutil
import subprocess

import pytest

from faceau import _lib

HEADER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "include")
STRUCTS = {
    "faceau_config": _lib.Config, "faceau_frame": _lib.Frame, "faceau_au_result": _lib.AUResult,
    "faceau_box": _lib.Box, "faceau_camera": _lib.Camera, "faceau_face": _lib.Face,
    "faceau_run_options": _lib.RunOptions, "faceau_batch_input": _lib.BatchInput,
    "faceau_batch_result": _lib.BatchResult, "faceau_batch_progress": _lib.BatchProgress,
    "faceau_batch_options": _lib.BatchOptions, "faceau_mirror_options": _lib.MirrorOptions,
}


def test_struct_layout(tmp_path):
    cc = shutil.which("cc") or pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <faceau.h>", "int main(void) {"]
    want = []
    for cname, py in STRUCTS.items():
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        want.append(f"{cname} {__import__('ctypes').sizeof(py)}")
        for fname, *_ in py._fields_:
            lines.append(f'printf("{cname}.{fname} %zu\\n", offsetof({cname}, {fname}));')
            want.append(f"{cname}.{fname} {getattr(py, fname).offset}")
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", HEADER_DIR, str(src), "-o", str(tmp_path / "layout")],
                   check=True)
    got = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout.split("\n")
    assert got[:-1] == want


def test_field_names_cover_header():
    """Every field the header declares in these structs is in the binding (a new field appended
    to a struct on the C side shows here)."""
    import re
    text = open(os.path.join(HEADER_DIR, "faceau.h")).read()
    for cname, py in STRUCTS.items():
        m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), text, re.S)
        assert m, cname
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        body = re.sub(r"\(\*\s*(\w+)\)\s*\([^)]*\)", r"\1", body)  # function pointers: their name
        names = []
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            for part in decl.split(","):
                n = re.findall(r"\(?\*?\s*(\w+)\s*\)?\s*(?:\[[^\]]*\])?\s*$", part.strip())
                if n:
                    names.append(n[-1])
        assert names == [f[0] for f in py._fields_], cname
