//! The command-line names of the library's choices (loss, form, cap, mse
//! form, task, point selection): clap lives in the CLI alone, and the
//! library's enums know nothing of it. The names are the ones the manifest
//! records (serde), so a flag and a manifest say the same word.

use crate::data::{Select, Task};
use crate::formulation::{Cap, Form, Loss, MseForm};
use clap::builder::PossibleValue;
use clap::ValueEnum;

/// Implements `ValueEnum` for a library enum from its variants, each with
/// its name and one line of help.
macro_rules! names {
    ($ty:ty: $($variant:expr => $name:literal, $help:literal;)*) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),*]
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                $(if *self == $variant {
                    return Some(PossibleValue::new($name).help($help));
                })*
                None
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
    }
}
