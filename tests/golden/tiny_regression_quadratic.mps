NAME gdmilp-37dba8e3d2a5a378
ROWS
 N obj
COLUMNS
    w_0_0 obj -4
    w_0_1 obj 4
    b_0 obj -1
RHS
BOUNDS
 LO bnd w_0_0 0.45
 UP bnd w_0_0 0.55
 LO bnd w_0_1 -0.3
 UP bnd w_0_1 -0.2
 LO bnd b_0 0.075
 UP bnd b_0 0.175
QUADOBJ
    w_0_0 w_0_0 10
    w_0_1 w_0_0 4
    b_0 w_0_0 6
    w_0_1 w_0_1 40
    b_0 w_0_1 12
    b_0 b_0 6
ENDATA
