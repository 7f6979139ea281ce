# The layers of docs/architecture.md, checked on the link graph when CMake
# configures: a forbidden edge stops the build, naming the chain of links
# that makes it.
#   - nothing in common/, rpc/, kernels/ or runtime/ reaches a scheduler/
#     library;
#   - the model and layout arithmetic and the placement engine reach
#     neither MPI, NCCL, gRPC nor the RPC layer.

# Every target defined in `dir` and the directories below it.
function(meridian_targets_below dir out_var)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    meridian_targets_below(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out_var} ${targets} PARENT_SCOPE)
endfunction()

# The libraries `target` links, directly (generator expressions other than
# $<LINK_ONLY:...> are skipped: they name no library here).
function(meridian_direct_links target out_var)
  set(links "")
  get_target_property(imported ${target} IMPORTED)
  get_target_property(type ${target} TYPE)
  if(NOT imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(own ${target} LINK_LIBRARIES)
    if(own)
      list(APPEND links ${own})
    endif()
  endif()
  get_target_property(iface ${target} INTERFACE_LINK_LIBRARIES)
  if(iface)
    list(APPEND links ${iface})
  endif()
  set(out "")
  foreach(link IN LISTS links)
    if(link MATCHES "^\\$<LINK_ONLY:(.+)>$")
      set(link ${CMAKE_MATCH_1})
    endif()
    if(NOT link MATCHES "\\$<")
      list(APPEND out ${link})
    endif()
  endforeach()
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()

# Fails when `from` reaches a library matching `forbidden` (a regex),
# printing the chain from `from` to it and `why`.
function(meridian_forbid_reach from forbidden why)
  set(queue ${from})
  set(seen ${from})
  while(queue)
    list(POP_FRONT queue current)
    meridian_direct_links(${current} links)
    string(MAKE_C_IDENTIFIER "${current}" current_id)
    foreach(link IN LISTS links)
      if(link IN_LIST seen)
        continue()
      endif()
      list(APPEND seen ${link})
      string(MAKE_C_IDENTIFIER "${link}" link_id)
      set(parent_${link_id} ${current})
      if(link MATCHES "${forbidden}")
        set(chain ${link})
        set(step ${current})
        while(step)
          list(PREPEND chain ${step})
          string(MAKE_C_IDENTIFIER "${step}" step_id)
          set(step ${parent_${step_id}})
        endwhile()
        list(JOIN chain " -> " shown)
        message(FATAL_ERROR "layer check: ${shown}\n  ${why} (cmake/check_layers.cmake)")
      endif()
      if(TARGET ${link})
        list(APPEND queue ${link})
      endif()
    endforeach()
  endwhile()
endfunction()

set(_scheduler_libs "^meridian_(sched_|placement$|job_file$|proto_json$)")
foreach(dir common rpc kernels runtime)
  meridian_targets_below(${CMAKE_SOURCE_DIR}/${dir} targets)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type MATCHES "LIBRARY")
      meridian_forbid_reach(${target} "${_scheduler_libs}"
                            "${dir}/ stands below scheduler/: a library there may not link the scheduler's")
    endif()
  endforeach()
endforeach()
foreach(target meridian_model_math meridian_parallel_math meridian_placement)
  if(NOT TARGET ${target})  # a build without it (the fuzz build) has nothing to check
    continue()
  endif()
  meridian_forbid_reach(${target} "^(MPI::|meridian_comm$|meridian_comm_|gRPC::|meridian_grpc$|meridian_rpc$|.*[Nn][Cc][Cc][Ll])"
                        "the arithmetic and the placement engine link no communication or RPC code")
endforeach()
