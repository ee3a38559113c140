NAME gdmilp
ROWS
 N obj
 E res_0_0
 E res_1_0
 E res_2_0
COLUMNS
    w_0_0 res_0_0 1   res_1_0 2
    w_0_1 res_0_0 2   res_2_0 4
    b_0 res_0_0 1   res_1_0 1
    b_0 res_2_0 1
    r_0_0 res_0_0 -1
    r_1_0 res_1_0 -1
    r_2_0 res_2_0 -1
RHS
    rhs res_0_0 1
    rhs res_1_0 0.5
    rhs res_2_0 -1
BOUNDS
 LO bnd w_0_0 0.45
 UP bnd w_0_0 0.55
 LO bnd w_0_1 -0.3
 UP bnd w_0_1 -0.2
 LO bnd b_0 0.075
 UP bnd b_0 0.175
 LO bnd r_0_0 -1.075
 UP bnd r_0_0 -0.675
 LO bnd r_1_0 0.475
 UP bnd r_1_0 0.7749999999999999
 LO bnd r_2_0 -0.125
 UP bnd r_2_0 0.375
QUADOBJ
    r_0_0 r_0_0 2
    r_1_0 r_1_0 2
    r_2_0 r_2_0 2
ENDATA
