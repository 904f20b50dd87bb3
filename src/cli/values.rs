//! Value parsers of the command line's flags: each turns one argument into its value or a
//! sentence saying what was expected.

#[derive(Clone, PartialEq, Eq)]
pub enum BenchDevice {
    Cpu,
    Wgpu,
    All,
    /// A `latentlab serve` server, measured beside the same step here (as `--remote`).
    Remote(String),
}

/// cpu, wgpu, all or remote:ADDRESS.
pub fn bench_device(s: &str) -> Result<BenchDevice, String> {
    match s {
        "cpu" => Ok(BenchDevice::Cpu),
        "wgpu" => Ok(BenchDevice::Wgpu),
        "all" => Ok(BenchDevice::All),
        _ if s.starts_with("remote:") => remote_address(s).map(BenchDevice::Remote),
        _ => Err(format!(
            "`{s}` is not a bench device: use cpu, wgpu, all or remote:ws://HOST:PORT"
        )),
    }
}

/// A server address after `remote:`: ws://HOST:PORT or iroh:ID.
pub fn remote_address(s: &str) -> Result<String, String> {
    let s = s.strip_prefix("remote:").unwrap_or(s);
    latentlab::remote::Address::parse(s)
        .map(|a| a.to_string())
        .map_err(|e| e.to_string())
}

/// Truncation psi: a number from -1 to 2.
pub fn psi(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (-1.0..=2.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from -1 to 2")),
    }
}

/// `A..B`: levels A to B - 1.
pub fn level_range(s: &str) -> Result<std::ops::Range<usize>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}`: expected A..B level indices, e.g. 0..2"))?;
    let parse = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{t}` is not a level index"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a >= b {
        return Err(format!("`{s}`: the range is empty (A must be below B)"));
    }
    Ok(a..b)
}

/// `A:B` (two class indices).
pub fn class_pair(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected FROM:TO class indices, e.g. 3:7"))?;
    let parse = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{t}` is not a class index"))
    };
    Ok((parse(a)?, parse(b)?))
}
