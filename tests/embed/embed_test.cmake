# Installs the groove build in BUILD_DIR into a fresh prefix, then configures, builds and runs the
# separate project examples/embed against it with find_package(groove CONFIG).
# Usage: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P embed_test.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("== ${name}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "embed test: step '${name}' failed with exit code ${rc}")
  endif()
endfunction()

run_step(install ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
run_step(configure ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/embed" -B "${WORK_DIR}/build" -G Ninja
         -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run_step(build ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run_step(run "${WORK_DIR}/build/embed")
