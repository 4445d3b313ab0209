# Builds groove with GROOVE_CUDA=OFF (the CPU-only branch of every compile-time switch) and runs
# its CPU tests and `groove info` there. Usage:
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DWERROR=ON|OFF -DPYTHON=... -P no_cuda_test.cmake
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(LENGTH "${out}" n)
  if(n GREATER 4000)
    string(SUBSTRING "${out}" 0 2000 head)
    math(EXPR start "${n} - 2000")
    string(SUBSTRING "${out}" ${start} 2000 tail)
    set(out "${head}\n...\n${tail}")
  endif()
  message("== ${name}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "no-CUDA build test: step '${name}' failed with exit code ${rc}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run_step(configure ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=Release
         -DGROOVE_CUDA=OFF -DGROOVE_BUILD_BENCH=OFF -DGROOVE_WERROR=${WERROR} "-DGROOVE_TEST_PYTHON=${PYTHON}")
run_step(build ${CMAKE_COMMAND} --build "${WORK_DIR}" --target test_runtime test_kernels groove_cli)
run_step(test_runtime "${WORK_DIR}/tests/runtime/test_runtime")
run_step(test_kernels "${WORK_DIR}/tests/kernels/test_kernels")
run_step(info "${WORK_DIR}/tools/groove" info)
if(NOT last_output MATCHES "CUDA backend off" OR NOT last_output MATCHES "built without the CUDA backend")
  message(FATAL_ERROR "no-CUDA build test: groove info does not report a CPU-only build")
endif()
message("no-CUDA build: ok")
