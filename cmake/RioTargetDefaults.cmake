# Warnings as errors on our own code, never on third-party headers.
function(rio_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()
