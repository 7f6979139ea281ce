// The dashboard's static files (scheduler/observe/dashboard/), compiled
// into the daemon by embed_files.cmake.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace meridian::scheduler {

struct EmbeddedFile {
  const char* name;  // base name: "index.html", "dashboard.js"
  const unsigned char* data;
  size_t size;
};

// Every file, in the order CMake lists them.
const std::vector<EmbeddedFile>& DashboardFiles();

}  // namespace meridian::scheduler
