# env_bench: the MT10 env step against bare MuJoCo physics on the same model,
# the reset cost, and the ten-task vector env with 1 and 2 threads.
if(TARGET envs)
    add_executable(env_bench ${CMAKE_CURRENT_LIST_DIR}/env_bench.c)
    conal_target_defaults(env_bench)
    target_link_libraries(env_bench PRIVATE envs m)
endif()
