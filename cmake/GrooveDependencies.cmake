# Third-party dependencies, all from Debian packages (tools/install-deps installs them).
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(ZLIB REQUIRED)

# OpenBLAS: prefer Debian's OpenMP build, so a BLAS call made inside an OpenMP region over the
# model dimension runs single-threaded instead of oversubscribing the cores.
# Debian's layout under /usr and under every prefix of CMAKE_PREFIX_PATH (tools/gpu-check unpacks
# the packages into a private prefix on machines without apt).
set(_groove_blas_hints)
set(_groove_blas_include_hints)
set(_groove_prefixes ${CMAKE_PREFIX_PATH} $ENV{CMAKE_PREFIX_PATH} /usr)
string(REPLACE ":" ";" _groove_prefixes "${_groove_prefixes}")
foreach(prefix IN LISTS _groove_prefixes)
  foreach(flavour openblas-openmp openblas-pthread)
    list(APPEND _groove_blas_hints ${prefix}/lib/${CMAKE_LIBRARY_ARCHITECTURE}/${flavour})
    list(APPEND _groove_blas_include_hints ${prefix}/include/${CMAKE_LIBRARY_ARCHITECTURE}/${flavour})
  endforeach()
  list(APPEND _groove_blas_include_hints ${prefix}/include/openblas)
endforeach()
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
