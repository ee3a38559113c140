NAME gdmilp-f870831001e9a6ea
ROWS
 N obj
 G neg_0_0
 L pos_1_0
 L pos_2_0
 G neg_2_0
COLUMNS
    w_0_0 neg_0_0 1   pos_1_0 2
    w_0_1 neg_0_0 2   pos_2_0 4
    w_0_1 neg_2_0 4
    b_0 neg_0_0 1   pos_1_0 1
    b_0 pos_2_0 1   neg_2_0 1
    dev_0_0 obj 1   neg_0_0 1
    dev_1_0 obj 1   pos_1_0 -1
    dev_2_0 obj 1   pos_2_0 -1
    dev_2_0 neg_2_0 1
RHS
    rhs neg_0_0 1
    rhs pos_1_0 0.5
    rhs pos_2_0 -1
    rhs neg_2_0 -1
BOUNDS
 LO bnd w_0_0 0.45
 UP bnd w_0_0 0.55
 LO bnd w_0_1 -0.3
 UP bnd w_0_1 -0.2
 LO bnd b_0 0.075
 UP bnd b_0 0.175
 UP bnd dev_0_0 1.075
 UP bnd dev_1_0 0.7749999999999999
 UP bnd dev_2_0 0.375
ENDATA
