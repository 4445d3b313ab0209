# The NPZ/NPY and CSV dataset loaders (tasks/loaders.h); included by tests/tasks/CMakeLists.txt.
groove_add_test(test_loaders LABEL cpu SOURCES test_loaders.cpp)
