# Manual pages cidguard(1), cidguardd(8) and cidguardd.conf(5), made by
# pandoc from docs/man/*.md and installed to share/man/manN.  Without pandoc
# there are no pages (and no error): a developer's build does not need them.
#
# cidguardd.conf(5) lists every directive from docs/cidguardd.conf, the
# annotated example the package installs, so the two cannot drift apart.
# The same file run as a script (cmake -DCONF=... -DIN=... -DOUT=... -P
# man.cmake) writes that page's markdown.

if(CMAKE_SCRIPT_MODE_FILE)
  # The annotated example: "[section]" lines, "# text" lines describing the
  # directive that follows them, "name = default" lines.  Comments before
  # the first section are the file's own introduction, left out here.
  # Read as lines by hand: a CMake list treats ';' as a separator and
  # brackets as grouping, and the file's text holds both, so they are
  # stood in for while the lines are split and put back in each line.
  file(READ "${CONF}" text)
  string(REPLACE "[" "@LB@" text "${text}")
  string(REPLACE "]" "@RB@" text "${text}")
  string(REPLACE ";" "@SC@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(out "")
  set(desc "")
  set(in_section FALSE)
  foreach(line IN LISTS lines)
    string(REPLACE "@LB@" "[" line "${line}")
    string(REPLACE "@RB@" "]" line "${line}")
    string(REPLACE "@SC@" ";" line "${line}")
    if(line MATCHES "^\\[([a-z]+)\\]$")
      set(in_section TRUE)
      string(APPEND out "## [${CMAKE_MATCH_1}]\n\n")
      set(desc "")
    elseif(NOT in_section)
    elseif(line MATCHES "^# ?(.*)$")
      string(APPEND desc " ${CMAKE_MATCH_1}")
    elseif(line MATCHES "^([a-z0-9_]+) *= *(.*)$")
      set(name "${CMAKE_MATCH_1}")
      set(value "${CMAKE_MATCH_2}")
      string(STRIP "${desc}" desc)
      # Markdown's own characters in the text stay literal.
      foreach(ch "\\" "*" "_" "`" "<" "[" "]" "|" "~" "^" "$")
        string(REPLACE "${ch}" "\\${ch}" desc "${desc}")
        string(REPLACE "${ch}" "\\${ch}" value "${value}")
      endforeach()
      string(REPLACE "\\_" "\\_" name "${name}")
      string(REPLACE "_" "\\_" name "${name}")
      if(value STREQUAL "")
        set(shown "(empty)")
      else()
        set(shown "**${value}**")
      endif()
      string(APPEND out "**${name}** = ${shown}\n:   ${desc}\n\n")
      set(desc "")
    endif()
  endforeach()
  file(READ "${IN}" page)
  string(REPLACE "<!-- directives -->" "${out}" page "${page}")
  file(WRITE "${OUT}" "${page}")
  return()
endif()

find_program(PANDOC pandoc)
if(NOT PANDOC)
  message(STATUS "pandoc not found: no manual pages")
  return()
endif()
include(GNUInstallDirs)

get_filename_component(cg_man_root ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(CG_MAN_DIR ${CMAKE_CURRENT_BINARY_DIR}/man)
set(CG_MAN_SRC ${cg_man_root}/docs/man)
set(cg_man_pages "")
foreach(page cidguard.1 cidguardd.8 cidguardd.conf.5)
  string(REGEX REPLACE "^.*\\.([1-8])$" "\\1" section ${page})
  set(md ${CG_MAN_SRC}/${page}.md)
  set(deps ${md})
  if(page STREQUAL "cidguardd.conf.5")
    # The page's markdown with the directives filled in, then pandoc.
    set(full ${CG_MAN_DIR}/${page}.md)
    add_custom_command(OUTPUT ${full}
      COMMAND ${CMAKE_COMMAND} -DCONF=${cg_man_root}/docs/cidguardd.conf
              -DIN=${md} -DOUT=${full} -P ${CMAKE_CURRENT_LIST_FILE}
      DEPENDS ${md} ${cg_man_root}/docs/cidguardd.conf ${CMAKE_CURRENT_LIST_FILE}
      COMMENT "Listing the directives of docs/cidguardd.conf for ${page}")
    set(md ${full})
    list(APPEND deps ${full})
  endif()
  add_custom_command(OUTPUT ${CG_MAN_DIR}/${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CG_MAN_DIR}
    COMMAND ${PANDOC} --standalone --from markdown --to man ${md} -o ${CG_MAN_DIR}/${page}
    DEPENDS ${deps}
    COMMENT "Manual page ${page}")
  list(APPEND cg_man_pages ${CG_MAN_DIR}/${page})
  install(FILES ${CG_MAN_DIR}/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${cg_man_pages})
