# Cross build for 64-bit ARM Linux with Debian's cross compiler (gcc-aarch64-linux-gnu) against
# Debian's arm64 multiarch -dev packages (scripts/install-deps-arm64.sh installs both):
#   cmake -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Test programs run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, which ctest uses for every
# test that runs a built target; the shell tests reach the CLI through FACEAU_BIN, which
# tests/CMakeLists.txt points at a wrapper that runs it under the same emulator).
# scripts/ci-arm64.sh builds with this file and runs the tests CI runs on aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(FACEAU_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${FACEAU_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${FACEAU_TRIPLET}-g++)

# Debian's cross gcc already searches /usr/include/<triplet> and /usr/lib/<triplet> (multiarch,
# sysroot /), so no sysroot here; CMake must only look for arm64 libraries, never the host's.
set(CMAKE_LIBRARY_ARCHITECTURE ${FACEAU_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /usr/${FACEAU_TRIPLET} /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/include/x86_64-linux-gnu)

# pkg-config: the host's pkgconf, reading only the arm64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${FACEAU_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# qemu-user runs the arm64 programs. Their loader and libc must be one glibc build: the programs
# ask for /lib/ld-linux-aarch64.so.1, and the arm64 -dev packages bring Debian's multiarch
# libc6:arm64 (/lib/aarch64-linux-gnu), whose loader is at that path, so the prefix is /. (With
# -L /usr/aarch64-linux-gnu qemu takes the cross package's loader, libc6-arm64-cross, a different
# glibc build than the libc6:arm64 it then finds through ld.so.cache; with Debian 12's pair
# pthread_create loops forever in the loader's thread-stack list.)
find_program(FACEAU_QEMU NAMES qemu-${CMAKE_SYSTEM_PROCESSOR} qemu-${CMAKE_SYSTEM_PROCESSOR}-static)
if(FACEAU_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FACEAU_QEMU} -L /)
endif()
