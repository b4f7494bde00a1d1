# isitup_add_plugin(<name> SOURCES <files...> [DEPS <targets...>])
# Builds <name>.so: a loadable module with hidden visibility, linking only the SDK headers
# and DEPS. Output goes to ISITUP_PLUGIN_OUTPUT_DIR when that is set.
function(isitup_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE isitup::sdk ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  if(DEFINED ISITUP_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ISITUP_PLUGIN_OUTPUT_DIR})
  endif()
  if(DEFINED ISITUP_INSTALL_PLUGIN_DIR)
    install(TARGETS ${name} LIBRARY DESTINATION ${ISITUP_INSTALL_PLUGIN_DIR})
  endif()
endfunction()
