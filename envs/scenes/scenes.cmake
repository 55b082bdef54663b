# Embeds envs/scenes/*.xml into the envs library as a generated C source.
# Included from envs/CMakeLists.txt after conal_module(envs).
file(GLOB scene_xml CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.xml)
list(SORT scene_xml)
set(scene_c ${PROJECT_BINARY_DIR}/generated/envs/scene_files.c)
add_custom_command(
    OUTPUT ${scene_c}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${scene_c} "-DINPUTS=${scene_xml}"
            -P ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
    DEPENDS ${scene_xml} ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
    COMMENT "Embedding the built-in MJCF scenes"
    VERBATIM)
target_sources(envs PRIVATE ${scene_c})
