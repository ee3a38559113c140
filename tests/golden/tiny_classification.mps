NAME gdmilp-9d0a76dc7161fac1
ROWS
 N obj
 G mg_2_0
 G mg_2_1
COLUMNS
    w_0_0 mg_2_0 -1
    w_0_1 mg_2_0 -1
    w_1_0 mg_2_1 -1
    w_1_1 mg_2_1 -1
    w_2_0 mg_2_0 1   mg_2_1 1
    w_2_1 mg_2_0 1   mg_2_1 1
    b_0 mg_2_0 -1
    b_1 mg_2_1 -1
    b_2 mg_2_0 1   mg_2_1 1
    MARKER 'MARKER' 'INTORG'
    c_2 obj -1   mg_2_0 -0.051000000000000045
    c_2 mg_2_1 -0.051000000000000045
    MARKER 'MARKER' 'INTEND'
RHS
    rhs mg_2_0 -0.050000000000000044
    rhs mg_2_1 -0.050000000000000044
BOUNDS
 LO bnd w_0_0 0.95
 UP bnd w_0_0 1.05
 LO bnd w_0_1 -0.05
 UP bnd w_0_1 0.05
 LO bnd w_1_0 -0.05
 UP bnd w_1_0 0.05
 LO bnd w_1_1 0.95
 UP bnd w_1_1 1.05
 LO bnd w_2_0 0.45
 UP bnd w_2_0 0.55
 LO bnd w_2_1 0.45
 UP bnd w_2_1 0.55
 LO bnd b_0 -0.05
 UP bnd b_0 0.05
 LO bnd b_1 -0.05
 UP bnd b_1 0.05
 LO bnd b_2 0.2
 UP bnd b_2 0.3
 LO bnd c_2 0
 UP bnd c_2 1
ENDATA
