# nn_bench: MLP forward+backward against the bare sgemm sequence it issues.
if(TARGET nn)
    add_executable(nn_bench ${CMAKE_CURRENT_LIST_DIR}/nn_bench.c)
    conal_target_defaults(nn_bench)
    target_link_libraries(nn_bench PRIVATE nn m)
endif()
