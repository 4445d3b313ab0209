# Install + export so that another project can find_package(groove CONFIG) and link groove::groove.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GROOVE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/groove")

install(TARGETS groove groove_blas groove_io_deps EXPORT grooveTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/groove
  FILE_SET generated_headers DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT grooveTargets NAMESPACE groove:: DESTINATION ${GROOVE_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/grooveConfig.cmake.in
  "${PROJECT_BINARY_DIR}/grooveConfig.cmake" INSTALL_DESTINATION ${GROOVE_INSTALL_CMAKEDIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/grooveConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/grooveConfig.cmake" "${PROJECT_BINARY_DIR}/grooveConfigVersion.cmake"
  DESTINATION ${GROOVE_INSTALL_CMAKEDIR})
