# Tests of the neural-like generator, the NDT raster loader and the NPZ / CSV recording loaders
# (tasks/neural.cpp, tasks/ndt_loader.cpp, tasks/neural_loaders.cpp). The tests write .mat files
# with libmatio (tests/common/mat_writer), so they link it too. Included from tests/tasks/CMakeLists.txt.
groove_add_test(test_neural LABEL cpu SOURCES test_neural.cpp test_neural_loaders.cpp)
target_link_libraries(test_neural PRIVATE groove_test_mat)
