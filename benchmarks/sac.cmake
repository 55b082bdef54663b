# sac_bench: the MT-SAC update against its bare sgemm sequence and PyTorch.
if(TARGET rl)
    add_executable(sac_bench ${CMAKE_CURRENT_LIST_DIR}/sac_bench.c)
    conal_target_defaults(sac_bench)
    target_compile_definitions(sac_bench PRIVATE CONAL_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(sac_bench PRIVATE rl PkgConfig::OPENBLAS m)
endif()
