# tombsync_library(<target> [PUBLIC_HEADERS h...] [PUBLIC_DEPS t...] [PRIVATE_DEPS t...] [EXCLUDE f.cc...])
# One folder, one static library: every .cc of the folder (minus EXCLUDE) is compiled into it.
# Headers are named from the repository root ("schemas/lsn.h"). The headers listed in
# PUBLIC_HEADERS are the library's interface; every other header of the folder is private to it,
# and scripts/check-layout fails a file of another folder that includes one (tests of the same
# layer excepted). What each folder may include at all is in docs/architecture.md.
function(tombsync_library name)
  cmake_parse_arguments(A "" "" "PUBLIC_HEADERS;PUBLIC_DEPS;PRIVATE_DEPS;EXCLUDE" ${ARGN})
  file(GLOB src CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  foreach(x ${A_EXCLUDE})
    list(REMOVE_ITEM src ${CMAKE_CURRENT_SOURCE_DIR}/${x})
  endforeach()
  file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  set(private_headers ${headers})
  foreach(h ${A_PUBLIC_HEADERS})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${h})
      message(FATAL_ERROR "${name}: public header ${h} does not exist")
    endif()
    list(REMOVE_ITEM private_headers ${h})
  endforeach()
  add_library(${name} STATIC ${src})
  if(A_PUBLIC_HEADERS)
    target_sources(${name} PUBLIC FILE_SET HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR} FILES ${A_PUBLIC_HEADERS})
  endif()
  if(private_headers)
    target_sources(${name} PRIVATE FILE_SET internal TYPE HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR}
      FILES ${private_headers})
  endif()
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_PUBLIC_DEPS} PRIVATE tombsync_warnings ${A_PRIVATE_DEPS})
endfunction()
