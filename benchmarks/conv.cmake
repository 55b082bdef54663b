# conv_bench: Conv2d forward+backward at the vision backbones' shapes against
# PyTorch's CPU convolution (scripts/bench_conv_torch.py) in the same run.
if(TARGET nn)
    add_executable(conv_bench ${CMAKE_CURRENT_LIST_DIR}/conv_bench.c)
    conal_target_defaults(conv_bench)
    target_compile_definitions(conv_bench PRIVATE CONAL_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(conv_bench PRIVATE nn PkgConfig::OPENBLAS m)
endif()
