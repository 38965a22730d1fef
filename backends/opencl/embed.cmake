# cmake -DOUT=FILE -DFILES=a|b|... -P embed.cmake: the files, concatenated in order, as a C++
# raw string literal (the OpenCL backend's program source, compiled by the driver at run time).
string(REPLACE "|" ";" files "${FILES}")
set(text "")
foreach(f ${files})
  file(READ ${f} part)
  string(APPEND text "// ---- ${f}\n${part}\n")
endforeach()
file(WRITE ${OUT}.new "R\"tessel_cl(${text})tessel_cl\"\n")
configure_file(${OUT}.new ${OUT} COPYONLY)
