# `cmake --install build [--prefix DIR]` and `cpack` (a .deb): the programs
# in bin/ (the daemon finds meridian-train beside itself), the docs, the
# example cluster, job and config files, and meridianctl's bash completion.
include(GNUInstallDirs)

set(MERIDIAN_PROGRAMS meridian-scheduler meridianctl meridian-train meridian-data)
if(TARGET meridian-bench)
  list(APPEND MERIDIAN_PROGRAMS meridian-bench)
endif()
install(TARGETS ${MERIDIAN_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/meridian/examples)
install(FILES scripts/completion/meridianctl.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME meridianctl)

set(CPACK_PACKAGE_NAME meridian)
set(CPACK_PACKAGE_VENDOR "Meridian")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Trains GPT models on GPU pools spread over many data centers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_INSTALL_DIRECTORY meridian)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Meridian <meridian@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The shared libraries the programs load become the package's Depends
# (dpkg-shlibdeps); mpirun and ssh are run, not linked, so they are named.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openmpi-bin, openssh-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client, prometheus")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
include(CPack)
