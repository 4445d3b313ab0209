# Builds groove with GROOVE_CUDA=OFF (the CPU-only branch of every compile-time switch) and with
# GROOVE_NATIVE=NATIVE (the main build's other branch), runs its CPU tests and `groove info`
# there, and, given the main build's CLI, checks that both train bit for bit alike on the CPU
# (GROOVE_NATIVE changes the speed, never the results). Usage:
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DWERROR=ON|OFF -DPYTHON=... -DNATIVE=ON|OFF
#         [-DMAIN_CLI=path/to/groove] -P no_cuda_test.cmake
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
         -DGROOVE_CUDA=OFF -DGROOVE_BUILD_BENCH=OFF -DGROOVE_WERROR=${WERROR} "-DGROOVE_TEST_PYTHON=${PYTHON}"
         -DGROOVE_NATIVE=${NATIVE})
run_step(build ${CMAKE_COMMAND} --build "${WORK_DIR}" --target test_runtime test_kernels groove_cli)
run_step(test_runtime "${WORK_DIR}/tests/runtime/test_runtime")
run_step(test_kernels "${WORK_DIR}/tests/kernels/test_kernels")
run_step(info "${WORK_DIR}/tools/groove" info)
if(NOT last_output MATCHES "CUDA backend off" OR NOT last_output MATCHES "built without the CUDA backend")
  message(FATAL_ERROR "no-CUDA build test: groove info does not report a CPU-only build")
endif()
if(MAIN_CLI)
  set(config "D=24,N=96,P=80,C=3,K=3")
  foreach(side main other)
    file(REMOVE_RECURSE "${WORK_DIR}/dump-${side}")
  endforeach()
  run_step(dump_main "${MAIN_CLI}" bench --device cpu --config ${config} --dump "${WORK_DIR}/dump-main"
           --dump-steps 300 --quiet)
  run_step(dump_other "${WORK_DIR}/tools/groove" bench --device cpu --config ${config} --dump "${WORK_DIR}/dump-other"
           --dump-steps 300 --quiet)
  foreach(f init.npz data.npz curves.npz)
    file(SHA256 "${WORK_DIR}/dump-main/${f}" main_hash)
    file(SHA256 "${WORK_DIR}/dump-other/${f}" other_hash)
    if(NOT main_hash STREQUAL other_hash)
      message(FATAL_ERROR "no-CUDA build test: ${f} of `groove bench --dump` differs between the main build and "
                          "this one (GROOVE_NATIVE=${NATIVE}): the builds do not compute the same bits")
    endif()
  endforeach()
  message("== the main build and this one (GROOVE_NATIVE=${NATIVE}) wrote identical dumps of ${config}")
endif()
message("no-CUDA build: ok")
