# line
/* block */ { a = /* inline */ 1; } # end