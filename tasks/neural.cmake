# Neural population data: the synthetic neural-like generator and the Neural Decoding Toolbox
# raster loader (libmatio, via groove_io_deps). Included from tasks/CMakeLists.txt.
target_sources(groove
  PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/neural.cpp
    ${CMAKE_CURRENT_LIST_DIR}/ndt_loader.cpp
  PUBLIC FILE_SET HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR} FILES
    ${CMAKE_CURRENT_LIST_DIR}/neural_gen.h
    ${CMAKE_CURRENT_LIST_DIR}/ndt.h)
