/* status.c - status strings and version. */
#include "core/core.h"

const char *faceau_status_string(faceau_status status)
{
    switch (status) {
    case FACEAU_OK: return "ok";
    case FACEAU_ERR_INVALID_ARG: return "invalid argument";
    case FACEAU_ERR_NOMEM: return "out of memory";
    case FACEAU_ERR_IO: return "input/output error";
    case FACEAU_ERR_MODEL_NOT_FOUND: return "model files not found";
    case FACEAU_ERR_MODEL_CORRUPT: return "model file corrupt or truncated";
    case FACEAU_ERR_VIDEO: return "unreadable video";
    case FACEAU_ERR_IMAGE: return "unreadable image";
    case FACEAU_ERR_CSV: return "bad landmarks CSV";
    case FACEAU_ERR_NO_INPUT: return "no input";
    case FACEAU_ERR_TRUNCATED: return "input truncated";
    case FACEAU_ERR_STATE: return "call out of order";
    case FACEAU_ERR_NO_FACE: return "no face found";
    case FACEAU_ERR_INPUT_FAILED: return "some inputs failed";
    }
    return "unknown status";
}

const char *faceau_version(void)
{
    return FACEAU_VERSION;
}

int faceau_version_number(void)
{
    return FACEAU_VERSION_NUMBER;
}
