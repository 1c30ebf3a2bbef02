# ulp_sweep: exhaustive accuracy sweep of the JIT math kernels over all 2^32 float inputs
# (bench/ulp_sweep.cpp; results in docs/numerics.md). A benchmark, never run by CTest: it takes
# a few minutes on two cores. Include it from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/ulp_sweep.cmake)
# Then: ninja -C build ulp_sweep && ./build/bench/ulp_sweep
add_executable(ulp_sweep ${CMAKE_CURRENT_LIST_DIR}/ulp_sweep.cpp)
target_link_libraries(ulp_sweep PRIVATE cellforge_codegen Threads::Threads)
target_compile_features(ulp_sweep PRIVATE cxx_std_20)  # std::bit_cast; stated so the rule stands alone
