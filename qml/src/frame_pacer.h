// SPDX-License-Identifier: MIT
#pragma once

// The frame pacing of `latest` and LatestModel is the Qt layer's, shared with rio::LatestValue.
#include <registryio/qt/detail/frame_pacer.h>
