# Writes the version source (VERSION_IN -> VERSION_OUT) with the git commit
# of SOURCE_DIR at build time, so `--version` names the commit the binary
# was built from, not the one CMake was configured at. configure_file only
# rewrites the file when its text changes, so an unchanged commit relinks
# nothing.
execute_process(
  COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE MERIDIAN_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE git_result)
if(NOT git_result EQUAL 0 OR MERIDIAN_GIT_COMMIT STREQUAL "")
  # A source tarball or a Docker context without .git.
  set(MERIDIAN_GIT_COMMIT "unknown")
endif()
configure_file("${VERSION_IN}" "${VERSION_OUT}" @ONLY)
