// A GoogleTest main for tests that run under mpirun: every rank runs every
// test, only rank 0 prints, and the job fails if any rank fails.
#pragma once

#include "runtime/comm/communicator.h"

namespace meridian {

// The world group, set up before the tests run.
Communicator* TestWorld();

}  // namespace meridian
