//! A fuzzing campaign: generate items per seed, evaluate them in batches
//! (one CppNix process for many items), bisect a batch that disagrees down
//! to single items, shrink each divergence and save it.
//!
//! Batching: each item is wrapped as `let v = E; r = tryEval (deepSeq v v);
//! in if r.success then v else "«caught»"`, so that a `throw` or failed
//! `assert` does not end the batch. Errors `tryEval` cannot catch (type
//! errors, `abort`, ...) would end it, so items for which nixkit gives such
//! an error are run one per process; all others go into one list. If the
//! two printed lists are equal, every item agrees; otherwise the batch is
//! halved until single items remain, which are compared unwrapped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::expr::Node;
use crate::gen::{Gen, GenConfig};
use crate::oracle::{eval_nixkit, CppNix, OracleError};
use crate::outcome::{compare, compare_pending, signature, ErrorClass, Outcome, Verdict};
use crate::rules::PendingFix;

/// The settings of a campaign.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// What to generate.
    pub gen: GenConfig,
    /// The oracle.
    pub cppnix: CppNix,
    /// Items generated per seed (and the largest batch).
    pub items_per_seed: usize,
    /// CppNix runs a shrink may take.
    pub shrink_budget: usize,
    /// Where divergences are written (`None`: not written).
    pub found_dir: Option<PathBuf>,
    /// Divergences shrunk per signature; further ones are only counted.
    pub max_per_signature: usize,
    /// nixkit run as `nix-instantiate` in a process of its own (this crate's
    /// binary: `nixkit-difftest --eval ...`), which evaluates again an
    /// expression that failed in-process. The symbol table is per process
    /// and attributes are forced in the order their names were first
    /// interned, so in-process evaluation after earlier expressions can
    /// force them in another order than one fresh process does.
    pub fresh_nixkit: Option<CppNix>,
}

impl Default for Campaign {
    fn default() -> Self {
        Campaign {
            gen: GenConfig::default(),
            cppnix: CppNix::default(),
            items_per_seed: 60,
            shrink_budget: 150,
            found_dir: None,
            max_per_signature: 4,
            fresh_nixkit: None,
        }
    }
}

/// One divergence, shrunk.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The seed whose item diverged.
    pub seed: u64,
    /// What kind of outcome each side gave.
    pub signature: String,
    /// The generated item.
    pub original: String,
    /// The smallest expression found that diverges the same way.
    pub shrunk: String,
    /// nixkit's outcome on the shrunk expression.
    pub nixkit: Outcome,
    /// CppNix's outcome on the shrunk expression.
    pub cppnix: Outcome,
}

impl Finding {
    /// The finding as a Nix file: outcomes in comments, then the expression.
    pub fn to_file_text(&self) -> String {
        let one_line = |s: &str| s.replace('\n', "\\n");
        let mut text = format!(
            "# nixkit-difftest divergence (seed {}): {}\n# nixkit:      {}\n# CppNix 2.8:  {}\n# run: nix-instantiate --eval --strict this-file\n# generated as: {}\n{}\n",
            self.seed,
            self.signature,
            one_line(&self.nixkit.describe()),
            one_line(&self.cppnix.describe()),
            one_line(&self.original),
            self.shrunk
        );
        if self
            .shrunk
            .chars()
            .any(|c| !c.is_ascii() || c.is_ascii_control() && c != '\n')
        {
            // Invisible characters (exotic whitespace) spelled out.
            text.insert_str(0, &format!("# escaped: {}\n", self.shrunk.escape_debug()));
        }
        text
    }

    /// A file name from the signature and a hash of the shrunk text.
    pub fn file_name(&self) -> String {
        let slug: String = self
            .signature
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let mut h: u64 = 0xcbf29ce484222325;
        for b in self.shrunk.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        format!("{slug}-{:08x}.nix", h as u32)
    }
}

/// What a campaign did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seeds run.
    pub seeds: usize,
    /// Items generated.
    pub items: usize,
    /// Items both evaluators agreed on.
    pub agreed: usize,
    /// Items whose difference a rule excludes, per rule.
    pub excluded: BTreeMap<String, usize>,
    /// Items whose difference is in a pending class judged on outcomes, per class.
    pub pending: BTreeMap<String, usize>,
    /// Items not compared because one side ran out of time.
    pub inconclusive: usize,
    /// CppNix processes started.
    pub cppnix_runs: usize,
    /// Divergences (one per signature and shrunk expression).
    pub findings: Vec<Finding>,
    /// Divergences not shrunk because their signature was seen often enough.
    pub repeats: usize,
}

/// Whole-list wrapper of items for one batch evaluation.
fn batch_text(items: &[&Node]) -> String {
    let mut out = String::from("[\n");
    for item in items {
        out.push_str("(let __dv = ");
        out.push_str(&item.render());
        out.push_str(";\n __dr = builtins.tryEval (builtins.deepSeq __dv __dv); in if __dr.success then __dv else \"«caught»\")\n");
    }
    out.push(']');
    out
}

/// A single item as evaluated alone: in a list, so it is never a top-level function.
pub fn single_text(item: &str) -> String {
    format!("[ ({item}\n) ]")
}

impl Campaign {
    /// Runs `seeds` in order until they are done or `deadline` passes.
    pub fn run(
        &self,
        seeds: impl IntoIterator<Item = u64>,
        deadline: Instant,
    ) -> Result<Report, OracleError> {
        let mut report = Report::default();
        for seed in seeds {
            if Instant::now() >= deadline {
                break;
            }
            self.run_seed(seed, deadline, &mut report)?;
            report.seeds += 1;
        }
        Ok(report)
    }

    fn run_seed(
        &self,
        seed: u64,
        deadline: Instant,
        report: &mut Report,
    ) -> Result<(), OracleError> {
        let mut gen = Gen::new(&self.gen, seed);
        let items: Vec<Node> = (0..self.items_per_seed).map(|_| gen.item()).collect();
        report.items += items.len();
        let mut batch = Vec::new();
        for item in &items {
            match eval_nixkit(&batch_text(&[item])) {
                Outcome::Value(_) => batch.push(item),
                _ => self.check_single(seed, item, deadline, report)?,
            }
        }
        self.check_group(seed, &batch, deadline, report)
    }

    fn check_group(
        &self,
        seed: u64,
        items: &[&Node],
        deadline: Instant,
        report: &mut Report,
    ) -> Result<(), OracleError> {
        if items.is_empty() {
            return Ok(());
        }
        if items.len() == 1 {
            return self.check_single(seed, items[0], deadline, report);
        }
        let text = batch_text(items);
        let ours = eval_nixkit(&text);
        if let Outcome::Value(_) = ours {
            report.cppnix_runs += 1;
            if self.cppnix.eval(&text)? == ours {
                report.agreed += items.len();
                return Ok(());
            }
        }
        let (a, b) = items.split_at(items.len() / 2);
        self.check_group(seed, a, deadline, report)?;
        self.check_group(seed, b, deadline, report)
    }

    /// nixkit's outcome; an error is confirmed in a fresh process when
    /// [`Campaign::fresh_nixkit`] is set.
    fn eval_nixkit_fresh(&self, text: &str) -> Result<Outcome, OracleError> {
        match (eval_nixkit(text), &self.fresh_nixkit) {
            (Outcome::Error(class, _), Some(fresh)) if class != ErrorClass::Panic => {
                fresh.eval(text)
            }
            (ours, _) => Ok(ours),
        }
    }

    fn check_single(
        &self,
        seed: u64,
        item: &Node,
        _deadline: Instant,
        report: &mut Report,
    ) -> Result<(), OracleError> {
        let text = single_text(&item.render());
        let ours = self.eval_nixkit_fresh(&text)?;
        report.cppnix_runs += 1;
        let theirs = self.cppnix.eval(&text)?;
        if is_timeout(&ours) || is_timeout(&theirs) {
            report.inconclusive += 1;
            return Ok(());
        }
        match compare_pending(&ours, &theirs, &self.gen.pending) {
            Verdict::Agree => report.agreed += 1,
            Verdict::Excluded(rule) => {
                *report.excluded.entry(format!("{rule:?}")).or_default() += 1
            }
            Verdict::Pending(PendingFix::AttrForceOrder) => {
                // Only if the failure needs several attributes of a set: shrink
                // it (comparing strictly) and look at what is left.
                let sig = signature(&ours, &theirs);
                let shrink_deadline = Instant::now() + Duration::from_secs(20);
                let (shrunk, nk, cn) =
                    self.shrink(item, &sig, ours, theirs, shrink_deadline, true, report)?;
                if needs_several_attributes(&shrunk) {
                    *report
                        .pending
                        .entry(PendingFix::AttrForceOrder.to_string())
                        .or_default() += 1;
                } else {
                    self.record(
                        report,
                        Finding {
                            seed,
                            signature: sig,
                            original: item.render(),
                            shrunk: shrunk.render(),
                            nixkit: nk,
                            cppnix: cn,
                        },
                    );
                }
            }
            Verdict::Pending(class) => *report.pending.entry(class.to_string()).or_default() += 1,
            Verdict::Diverge => {
                let sig = signature(&ours, &theirs);
                let seen = report
                    .findings
                    .iter()
                    .filter(|f| f.signature == sig)
                    .count();
                if seen >= self.max_per_signature {
                    report.repeats += 1;
                    return Ok(());
                }
                let shrink_deadline = Instant::now() + Duration::from_secs(20);
                let (shrunk, nk, cn) =
                    self.shrink(item, &sig, ours, theirs, shrink_deadline, false, report)?;
                self.record(
                    report,
                    Finding {
                        seed,
                        signature: sig,
                        original: item.render(),
                        shrunk: shrunk.render(),
                        nixkit: nk,
                        cppnix: cn,
                    },
                );
            }
        }
        Ok(())
    }

    /// Adds a shrunk divergence to the report (once) and writes it.
    fn record(&self, report: &mut Report, finding: Finding) {
        let known = report
            .findings
            .iter()
            .any(|f| f.signature == finding.signature && f.shrunk == finding.shrunk);
        if !known {
            if let Some(dir) = &self.found_dir {
                save(dir, &finding);
            }
            report.findings.push(finding);
        }
    }

    /// Shrinks `item`, keeping a candidate only if it diverges with the same
    /// signature (`strict`: pending classes judged on outcomes count as
    /// divergences).
    #[allow(clippy::too_many_arguments)]
    fn shrink(
        &self,
        item: &Node,
        sig: &str,
        ours: Outcome,
        theirs: Outcome,
        deadline: Instant,
        strict: bool,
        report: &mut Report,
    ) -> Result<(Node, Outcome, Outcome), OracleError> {
        let mut last = (ours, theirs);
        let best = shrink_tree(item, self.shrink_budget, deadline, |cand| {
            let text = single_text(&cand.render());
            let nk = self.eval_nixkit_fresh(&text)?;
            // nixkit is cheap: only ask CppNix if nixkit's side still looks the same.
            if nk.kind() != last.0.kind() {
                return Ok(None);
            }
            report.cppnix_runs += 1;
            let cn = self.cppnix.eval(&text)?;
            let verdict = if strict {
                compare(&nk, &cn)
            } else {
                compare_pending(&nk, &cn, &self.gen.pending)
            };
            let same = verdict == Verdict::Diverge && signature(&nk, &cn) == sig;
            if same {
                last = (nk, cn);
            }
            Ok(Some(same))
        })?;
        Ok((best, last.0, last.1))
    }
}

/// Greedy delta debugging over the tree: takes the smallest candidate edit
/// for which `check` says `Some(true)` (still failing the same way), until
/// none does, `budget` checks answered `Some(_)` or `deadline` passed.
/// `check` answers `None` for a candidate it rejected without costly work.
pub fn shrink_tree<E>(
    item: &Node,
    budget: usize,
    deadline: Instant,
    mut check: impl FnMut(&Node) -> Result<Option<bool>, E>,
) -> Result<Node, E> {
    let mut best = item.clone();
    let mut budget = budget;
    'outer: loop {
        for cand in best.shrink_candidates() {
            if budget == 0 || Instant::now() > deadline {
                break 'outer;
            }
            match check(&cand)? {
                None => {}
                Some(still_failing) => {
                    budget -= 1;
                    if still_failing {
                        best = cand;
                        continue 'outer;
                    }
                }
            }
        }
        break;
    }
    Ok(best)
}

/// Whether a shrunk expression still holds two or more attributes of sets
/// (set literals, `listToAttrs` lists): its failure may depend on the order
/// in which attributes are forced ([`PendingFix::AttrForceOrder`]).
fn needs_several_attributes(node: &Node) -> bool {
    let text = node.render();
    if ["listToAttrs", "mapAttrs", "zipAttrsWith", "groupBy"]
        .iter()
        .any(|b| text.contains(b))
    {
        return true;
    }
    let attrs: usize = node
        .paths()
        .iter()
        .filter_map(|p| match node.at(p) {
            Some(Node::Seq { open, items, .. })
                if open.starts_with('{') || open.starts_with("rec {") =>
            {
                Some(items.len())
            }
            _ => None,
        })
        .sum();
    attrs >= 2
}

fn is_timeout(o: &Outcome) -> bool {
    matches!(o, Outcome::Error(ErrorClass::Timeout, _))
}

/// Writes a finding into `dir` (best effort: a failure is reported on stderr).
fn save(dir: &Path, finding: &Finding) {
    let path = dir.join(finding.file_name());
    if let Err(e) =
        std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, finding.to_file_text()))
    {
        eprintln!("nixkit-difftest: cannot write {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_wraps_each_item_in_try_eval() {
        let a = Node::leaf("1");
        let b = Node::leaf("(throw \"x\")");
        let text = batch_text(&[&a, &b]);
        assert_eq!(text.matches("builtins.tryEval").count(), 2);
        assert!(text.starts_with('[') && text.ends_with(']'));
        assert_eq!(
            eval_nixkit(&text),
            Outcome::Value("[ 1 \"«caught»\" ]".into())
        );
    }

    #[test]
    fn shrinking_keeps_the_failure_and_makes_the_tree_smaller() {
        let item = Node::form(
            &["(let ", " in ", ")"],
            vec![
                Node::seq(
                    "",
                    vec![Node::part(&["x = ", ";"], vec![Node::leaf("1")])],
                    "",
                    false,
                ),
                Node::seq(
                    "[ ",
                    vec![
                        Node::leaf("x"),
                        Node::form(
                            &["(builtins.div ", " ", ")"],
                            vec![Node::leaf("7"), Node::leaf("0")],
                        ),
                        Node::leaf("3"),
                    ],
                    "]",
                    true,
                ),
            ],
        );
        let mut checks = 0;
        let fails = |n: &Node| n.render().contains("div") && n.render().contains(" 0)");
        let small = shrink_tree(&item, 100, Instant::now() + Duration::from_secs(10), |n| {
            checks += 1;
            Ok::<_, ()>(Some(fails(n)))
        });
        let small = small.unwrap_or_else(|()| item.clone());
        assert!(fails(&small));
        assert!(
            small.render().len() < item.render().len() / 2,
            "{}",
            small.render()
        );
        assert!(checks <= 100);
        // A budget of zero checks changes nothing.
        let same = shrink_tree(&item, 0, Instant::now() + Duration::from_secs(10), |_| {
            Ok::<_, ()>(Some(true))
        });
        assert_eq!(same, Ok(item));
    }

    #[test]
    fn attribute_order_needs_two_attributes() {
        let two = Node::seq(
            "{ ",
            vec![
                Node::part(&["n = ", ";"], vec![Node::leaf("(builtins.length \"\")")]),
                Node::part(&["a = ", ";"], vec![Node::leaf("(builtins.elemAt [ ] 0)")]),
            ],
            "}",
            true,
        );
        assert!(needs_several_attributes(&two));
        let operands = Node::leaf("((abort \"x\") / 0)");
        assert!(!needs_several_attributes(&operands));
    }

    #[test]
    fn finding_files_hold_both_outcomes() {
        let f = Finding {
            seed: 3,
            signature: "nixkit value / cppnix Type".into(),
            original: "[ 1 ]".into(),
            shrunk: "1".into(),
            nixkit: Outcome::Value("1".into()),
            cppnix: Outcome::Error(ErrorClass::Type, "bad".into()),
        };
        let text = f.to_file_text();
        assert!(text.contains("# nixkit:      1") && text.contains("error (Type): bad"));
        assert!(text.ends_with("1\n"));
        assert!(f.file_name().starts_with("nixkit-value-cppnix-Type-"));
    }
}
