# conal_bench: MT-SAC-shaped update, CoNAL search, CoNAL retrain and the plain
# derived network, each against the bare sgemm calls it issues.
if(TARGET conal)
    add_executable(conal_bench ${CMAKE_CURRENT_LIST_DIR}/conal_bench.c)
    conal_target_defaults(conal_bench)
    target_link_libraries(conal_bench PRIVATE conal nn ${CMAKE_DL_LIBS} m)
endif()
