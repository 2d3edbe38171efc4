/* internal.h - every internal header at once, for the tests and the bench only (not installed).
 * Library code includes its own folder's header (which includes the folders below it); see
 * core/core.h for the conventions and the layer order. */
#ifndef FACEAU_INTERNAL_H
#define FACEAU_INTERNAL_H

#include "core/core.h"
#include "cv/cv.h"
#include "nn/nn.h"
#include "pdm/pdm.h"
#include "detect/detect.h"
#include "detect/detect_steps.h"
#include "au/au.h"
#include "io/io.h"
#include "mirror/mirror.h"
#include "api/api.h"

#endif
