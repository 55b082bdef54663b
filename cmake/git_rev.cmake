# Writes version_info.h with the git revision of the source tree, at build
# time, so that `conal version` and every run directory name the commit that
# was built rather than the one CMake was configured at. A tree with
# uncommitted changes gets "-dirty". configure_file rewrites OUT only when
# its text changes, so an unchanged revision rebuilds nothing.
# Arguments: SRC (source tree), IN (template), OUT (header), PROJECT_VERSION.
execute_process(
    COMMAND git rev-parse --short=12 HEAD
    WORKING_DIRECTORY ${SRC}
    OUTPUT_VARIABLE CONAL_GIT_REV OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET RESULT_VARIABLE git_rc)
if(NOT git_rc EQUAL 0 OR CONAL_GIT_REV STREQUAL "")
    set(CONAL_GIT_REV "unknown")
else()
    execute_process(
        COMMAND git diff --quiet HEAD --
        WORKING_DIRECTORY ${SRC}
        RESULT_VARIABLE dirty_rc ERROR_QUIET)
    if(dirty_rc EQUAL 1)
        set(CONAL_GIT_REV "${CONAL_GIT_REV}-dirty")
    endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
