# Third-party dependencies, all from Debian packages (tools/install-deps installs them).
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(ZLIB REQUIRED)

# OpenBLAS: prefer Debian's OpenMP build, so a BLAS call made inside an OpenMP region over the
# model dimension runs single-threaded instead of oversubscribing the cores.
set(_groove_blas_hints
  /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread)
set(_groove_blas_include_hints
  /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
  /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
  /usr/include/openblas)
find_library(GROOVE_BLAS_LIBRARY NAMES openblas HINTS ${_groove_blas_hints})
find_path(GROOVE_BLAS_INCLUDE_DIR NAMES cblas.h HINTS ${_groove_blas_include_hints})
if(NOT GROOVE_BLAS_LIBRARY OR NOT GROOVE_BLAS_INCLUDE_DIR)
  message(FATAL_ERROR "groove: OpenBLAS not found. Run tools/install-deps (Debian: libopenblas-openmp-dev)")
endif()
add_library(groove_blas INTERFACE)
target_link_libraries(groove_blas INTERFACE ${GROOVE_BLAS_LIBRARY})
target_include_directories(groove_blas INTERFACE $<BUILD_INTERFACE:${GROOVE_BLAS_INCLUDE_DIR}>)

# MATLAB files (Neural Decoding Toolbox rasters) and CSV parsing, from Debian.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GROOVE_MATIO REQUIRED IMPORTED_TARGET matio)
find_library(GROOVE_CSV_LIBRARY NAMES csv)
find_path(GROOVE_CSV_INCLUDE_DIR NAMES csv.h)
if(NOT GROOVE_CSV_LIBRARY OR NOT GROOVE_CSV_INCLUDE_DIR)
  message(FATAL_ERROR "groove: libcsv not found. Run tools/install-deps (Debian: libcsv-dev)")
endif()
add_library(groove_io_deps INTERFACE)
target_link_libraries(groove_io_deps INTERFACE PkgConfig::GROOVE_MATIO ${GROOVE_CSV_LIBRARY})
target_include_directories(groove_io_deps INTERFACE $<BUILD_INTERFACE:${GROOVE_CSV_INCLUDE_DIR}>)
