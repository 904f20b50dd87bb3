//! The 2-D sweep grid (a "MINE grid"): one axis varies along the rows, another along the
//! columns, around a base latent.

/// What one grid axis moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Axis {
    /// A raw latent dimension.
    Raw(usize),
    /// Direction `i` of the loaded set (in units of its sigma).
    Direction(usize),
    /// InfoGAN's continuous code `i`.
    Code(usize),
}

/// One axis's step: the latent change per unit, or a code to set.
pub enum Move<'a> {
    Latent(&'a [f32]),
    Code(usize),
}

/// Values an axis takes across `steps` cells: evenly spaced in `[-range, range]`.
pub fn values(steps: usize, range: f32) -> Vec<f32> {
    let steps = steps.max(2);
    (0..steps)
        .map(|i| -range + 2.0 * range * i as f32 / (steps - 1) as f32)
        .collect()
}

/// The grid's latents (`[steps² * latent]`, row-major: rows move `row`, columns move `col`)
/// and, when a code axis is involved, its conditions (`[steps² * cond]` from `base_cond`, with
/// continuous code `i` at offset `cond_offset + i`).
pub fn grid(
    base_z: &[f32],
    base_cond: Option<&[f32]>,
    cond_offset: usize,
    row: Move<'_>,
    col: Move<'_>,
    steps: usize,
    range: f32,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let vals = values(steps, range);
    let mut z = Vec::with_capacity(vals.len() * vals.len() * base_z.len());
    let mut cond = base_cond.map(|_| Vec::new());
    for &rv in &vals {
        for &cv in &vals {
            let mut zi = base_z.to_vec();
            let mut ci = base_cond.map(<[f32]>::to_vec);
            for (mv, amount) in [(&row, rv), (&col, cv)] {
                match mv {
                    Move::Latent(u) => super::directions::add_scaled(&mut zi, u, amount),
                    Move::Code(i) => {
                        if let Some(c) = ci.as_mut().and_then(|c| c.get_mut(cond_offset + i)) {
                            *c = amount;
                        }
                    }
                }
            }
            z.extend(zi);
            if let (Some(all), Some(ci)) = (cond.as_mut(), ci) {
                all.extend(ci);
            }
        }
    }
    (z, cond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_move_one_axis_and_columns_the_other() {
        let (e0, e1) = ([1.0, 0.0], [0.0, 1.0]);
        let (z, cond) = grid(
            &[0.0, 0.0],
            None,
            0,
            Move::Latent(&e0),
            Move::Latent(&e1),
            3,
            1.0,
        );
        assert!(cond.is_none());
        let cell = |r: usize, c: usize| [z[(r * 3 + c) * 2], z[(r * 3 + c) * 2 + 1]];
        assert_eq!(cell(0, 0), [-1.0, -1.0]);
        assert_eq!(cell(0, 2), [-1.0, 1.0]);
        assert_eq!(cell(2, 1), [1.0, 0.0]);
    }
}
