# gradmix_bench: MT-SAC update time with plain, PCGrad and CAGrad gradients.
if(TARGET rl AND TARGET conal)
    add_executable(gradmix_bench ${CMAKE_CURRENT_LIST_DIR}/gradmix_bench.c)
    conal_target_defaults(gradmix_bench)
    target_link_libraries(gradmix_bench PRIVATE rl conal m)
endif()
