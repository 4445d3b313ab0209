# Neural population data: the synthetic neural-like generator, the Neural Decoding Toolbox
# raster loader (libmatio, via groove_io_deps) and the NPZ / CSV recording loaders
# (neural_loaders.h). Included from tasks/CMakeLists.txt.
target_sources(groove
  PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/neural.cpp
    ${CMAKE_CURRENT_LIST_DIR}/ndt_loader.cpp
    ${CMAKE_CURRENT_LIST_DIR}/neural_loaders.cpp
  PUBLIC FILE_SET HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR} FILES
    ${CMAKE_CURRENT_LIST_DIR}/neural_gen.h
    ${CMAKE_CURRENT_LIST_DIR}/ndt.h
    ${CMAKE_CURRENT_LIST_DIR}/neural_loaders.h)
