//! The command-line names of the library's choices (loss, form, cap, mse
//! form, task, point selection, warm start, solve method, solution format): clap lives in the CLI alone, and the
//! library's enums know nothing of it. The names are the ones the manifest
//! records (serde), so a flag and a manifest say the same word.

use crate::data::{Select, Task};
use crate::formats::solution::SolutionFormat;
use crate::formulation::{Cap, Form, Loss, MseForm};
#[cfg(feature = "highs")]
use crate::solvers::strategy::Choice;
use crate::workflow::pipeline::WarmStart;
use clap::builder::PossibleValue;
use clap::ValueEnum;

/// Implements `ValueEnum` for a library enum from its variants, each with
/// its name and one line of help. The names are a `match` on the variants:
/// a variant added to the library enum and not here fails to compile.
macro_rules! names {
    ($ty:ty: $($variant:path => $name:literal, $help:literal;)*) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),*]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($variant => PossibleValue::new($name).help($help),)*
                })
            }
        }
    };
}

names! { Form:
    Form::Compact => "compact", "Margins written directly on the weights (fewer columns)";
    Form::Paper => "paper", "The paper's explicit activation variables a_t_j";
}

names! { Cap:
    Cap::None => "none", "No cap (default)";
    Cap::Point => "point", "The paper's constraint (6): no point's error may grow";
}

names! { Loss:
    Loss::Mse => "mse", "Regression: Σ (output − target)², the loss regressors train with";
    Loss::L1 => "l1", "Regression: Σ |output − target| (an LP; a MILP after a ReLU)";
    Loss::Linf => "linf", "Regression: max |output − target| (an LP; a MILP after a ReLU)";
    Loss::ZeroOne => "zero-one", "Classification: the number of points correct with margin ε (a MILP; the paper's)";
    Loss::Hinge => "hinge", "Classification: the multiclass hinge with δ = the margin (an LP)";
}

names! { MseForm:
    MseForm::Segments => "segments", "r² piecewise linear over segments of each residual's range (an LP)";
    MseForm::Tangents => "tangents", "Tangent lines of r² (an LP with ~90 rows a residual)";
    MseForm::Quadratic => "quadratic", "The exact quadratic objective (a convex QP)";
}

names! { Task:
    Task::Regression => "regression", "Real-valued targets, shape [T] or [T, M]";
    Task::Classification => "classification", "Integer class labels (or one-hot rows): argmax of the output";
}

names! { Select:
    Select::All => "all", "Every point (then --points takes the first N)";
    Select::Misclassified => "misclassified", "Points the model gets wrong (classification), a seeded random sample of N";
    Select::Random => "random", "A seeded random sample of N points";
    Select::First => "first", "The first N points in file order";
    Select::Worst => "worst", "The N points with the largest current loss";
}

names! { WarmStart:
    WarmStart::Current => "current", "The current weights (always feasible)";
    WarmStart::Hinge => "hinge", "The multiclass hinge LP's weights, solved first by the embedded HiGHS, when they have more points correct";
}

#[cfg(feature = "highs")]
names! { Choice:
    Choice::Auto => "auto", "By the problem's shape and size: least squares for mse with a linear output, the first-order hinge method and the MILP budget for large problems, HiGHS otherwise";
    Choice::Highs => "highs", "HiGHS for every problem: what solving the exported file gives";
    Choice::Structured => "structured", "The structured method wherever one applies (mse with a linear output, hinge), whatever the size";
}

names! { SolutionFormat:
    SolutionFormat::Highs => "highs", "HiGHS writeSolution, raw style (also what gdmilp solve writes)";
    SolutionFormat::HighsPretty => "highs-pretty", "HiGHS writeSolution, pretty style (6 significant digits)";
    SolutionFormat::Gurobi => "gurobi", "Gurobi .sol (ResultFile=x.sol)";
    SolutionFormat::GurobiJson => "gurobi-json", "Gurobi's JSON solution (ResultFile=x.json)";
    SolutionFormat::Cplex => "cplex", "CPLEX XML .sol";
    SolutionFormat::Cbc => "cbc", "CBC solve solution FILE";
    SolutionFormat::Scip => "scip", "SCIP write solution FILE / writeBestSol";
    SolutionFormat::Glpk => "glpk", "GLPK glpsol -w FILE (columns by number)";
    SolutionFormat::GlpkReport => "glpk-report", "GLPK's printable report glpsol -o FILE (6 significant digits)";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flag's word is the manifest's word for every choice.
    fn same_names<T: ValueEnum + serde::Serialize>() {
        for v in T::value_variants() {
            let flag = v.to_possible_value().unwrap().get_name().to_string();
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json.as_str(), Some(flag.as_str()));
        }
    }

    #[test]
    fn flags_and_manifests_name_every_choice_alike() {
        same_names::<Form>();
        same_names::<Cap>();
        same_names::<Loss>();
        same_names::<MseForm>();
        same_names::<Task>();
        same_names::<Select>();
        same_names::<WarmStart>();
    }

    /// Each name picks its own variant back (choices that have no manifest
    /// word: the solution format, the solve method).
    fn round_trip<T: ValueEnum + PartialEq + std::fmt::Debug>() {
        for v in T::value_variants() {
            let name = v.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(&T::from_str(&name, false).unwrap(), v, "{name}");
        }
    }

    #[test]
    fn every_flag_word_names_one_choice() {
        round_trip::<SolutionFormat>();
        #[cfg(feature = "highs")]
        round_trip::<Choice>();
        round_trip::<WarmStart>();
        round_trip::<Loss>();
    }
}
