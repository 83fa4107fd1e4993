//! `ragtrace-lab`: runs the case studies and compares their phases. See the crate docs and
//! docs/case-studies/.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
#[cfg(not(feature = "embedded-app"))]
use anyhow::bail;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ragtrace_core::report::Lang;
use ragtrace_core::simulate::{Currency, SimInput};
use ragtrace_lab::case::{Case, Phase};
use ragtrace_lab::report::{Counted, RunReport, compare};
use ragtrace_lab::target::{App, settings};
use ragtrace_lab::{decide, load, transcription};

/// Runs ragtrace's case studies, before and after their fixes, and measures them from the traces
/// and metrics ragtrace records.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one phase of one case study and prints its table.
    Run {
        /// The case study.
        case: Case,
        /// Before or after the fix.
        #[arg(long)]
        phase: Phase,
        /// Requests at most (chat cases).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        requests: Option<u64>,
        /// Seconds of load at most (chat cases).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
        duration: Option<u64>,
        /// Users at the peak (chat cases).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1000))]
        users: Option<u16>,
        /// Write the report as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A running ragtrace to drive (e.g. http://localhost:8080); without it the app starts
        /// in-process with the case's settings.
        #[arg(long)]
        target: Option<String>,
        /// Where in-process runs keep their state (the doc-search collection is built once).
        #[arg(long, default_value = "lab-data")]
        data_dir: PathBuf,
        /// Points of the doc-search collection (in-process runs).
        #[arg(long, default_value_t = 400_000, value_parser = clap::value_parser!(u64).range(1000..=2_000_000))]
        points: u64,
        /// The simulator scenario to run in, instead of the case's own (`instant` for a quick
        /// check of the runner itself).
        #[arg(long)]
        scenario: Option<String>,
        /// Minutes of the transcription case's meeting.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=480))]
        minutes: u32,
        /// After the run, keep the in-process app serving, so its traces can be read in the UI,
        /// until Ctrl-C (chat cases).
        #[arg(long, conflicts_with = "target")]
        hold: bool,
    },
    /// Prints the before/after table of two reports of one case; exits 1 when they are not.
    Compare {
        /// The report of the run before the fix.
        before: PathBuf,
        /// The report of the run after it.
        after: PathBuf,
    },
    /// Writes the executive report of two reports of one case: one self-contained HTML page.
    Report {
        /// The report of the run before the fix.
        before: PathBuf,
        /// The report of the run after it.
        after: PathBuf,
        /// Where to write the page.
        #[arg(short, long, default_value = "report.html")]
        out: PathBuf,
        /// The page's language.
        #[arg(long, default_value = "en", value_parser = parse_lang)]
        lang: Lang,
    },
    /// Asks a golden set of questions and scores the answers: hit@1/3/5 and MRR of the expected
    /// sources, cited-correct, fact in the answer, and catalog calls, by kind of question.
    Eval {
        /// The golden set (JSON lines: id, kind, question, sources, facts).
        #[arg(long, default_value = "data/golden.jsonl")]
        golden: PathBuf,
        /// A running ragtrace to ask; without it the app starts in-process on the embedded
        /// defaults (the demo corpus, the simulator's extractive answerer).
        #[arg(long)]
        target: Option<String>,
        /// Write the scores as JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where an in-process app keeps its index.
        #[arg(long, default_value = "lab-data")]
        data_dir: PathBuf,
        /// Failures to list.
        #[arg(long, default_value_t = 10)]
        worst: usize,
        /// How the in-process app retrieves: dense, sparse or hybrid (default: as configured,
        /// `chat.retrieval`). A --target keeps its own setting.
        #[arg(long)]
        retrieval: Option<ragtrace_core::vector_store::Retrieval>,
    },
    /// Projects the savings, the payback period and the first-year ROI of tracing and its
    /// fixes, from a team's own numbers (the formulas are in docs/report.md).
    Simulate(Box<SimulateArgs>),
    /// Drives a running ragtrace with chat users until stopped or done (the compose stack's
    /// load profile).
    Load {
        /// The app to drive.
        #[arg(
            long,
            env = "RAGTRACE_LAB_TARGET",
            default_value = "http://127.0.0.1:8080"
        )]
        target: String,
        /// Which questions: the chatbot's shoppers or the doc-search's employees.
        #[arg(long, default_value = "chatbot")]
        mix: Case,
        /// Users at once.
        #[arg(long, default_value_t = 2)]
        users: usize,
        /// Pause of each user between questions, milliseconds.
        #[arg(long, default_value_t = 1000)]
        think_ms: u64,
        /// Seconds to run (0 = until stopped).
        #[arg(long, default_value_t = 0)]
        duration: u64,
        /// Requests at most.
        #[arg(long)]
        requests: Option<u64>,
    },
    /// Writes case study 2's synthetic collection as Markdown files, to ingest into a Qdrant
    /// server with `ragtrace-ingest DIR`.
    Corpus {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
        /// Documents (one point each).
        #[arg(long, default_value_t = 400_000)]
        points: u64,
    },
}

/// The cost simulator's inputs. Today's figures come from `--from BEFORE AFTER` when given (mean
/// response, error rate, and the reductions and cache hit rate that pair measured).
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Monthly spend on the LLM API.
    #[arg(long)]
    monthly_spend: f64,
    /// Requests a day.
    #[arg(long)]
    daily_requests: f64,
    /// Mean response time today, seconds (required without --from).
    #[arg(long, required_unless_present = "from")]
    mean_response: Option<f64>,
    /// Error rate today, percent (required without --from).
    #[arg(long, required_unless_present = "from")]
    error_rate: Option<f64>,
    /// Two run reports whose measured change sets the defaults.
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    from: Option<Vec<PathBuf>>,
    /// USD or JPY.
    #[arg(long, default_value = "USD", value_parser = parse_currency)]
    currency: Currency,
    /// Expected cache hit rate, percent.
    #[arg(long)]
    cache_hit_rate: Option<f64>,
    /// Expected latency reduction, percent.
    #[arg(long)]
    latency_reduction: Option<f64>,
    /// Expected error reduction, percent.
    #[arg(long)]
    error_reduction: Option<f64>,
    /// The model used today (a key of the `[pricing]` table).
    #[arg(long)]
    model: Option<String>,
    /// The model to switch to.
    #[arg(long, requires = "model")]
    switch_to: Option<String>,
    /// Hours to introduce tracing.
    #[arg(long)]
    setup_hours: Option<f64>,
    /// Cost of one of those hours.
    #[arg(long)]
    hourly_rate: Option<f64>,
    /// Monthly cost of running the tracing stack.
    #[arg(long)]
    stack_cost: Option<f64>,
    /// What an hour of users' waiting is worth.
    #[arg(long)]
    value_per_user_hour: Option<f64>,
    /// What one failed request costs.
    #[arg(long)]
    cost_per_error: Option<f64>,
    /// Print the projection as JSON (the body `POST /api/simulate` returns).
    #[arg(long)]
    json: bool,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?} is not a language of the report: use en or ja"))
}

fn parse_currency(s: &str) -> Result<Currency, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("{s:?} is not a currency of the simulator: use USD or JPY"))
}

fn report_files(before: &Path, after: &Path, out: &Path, lang: Lang) -> anyhow::Result<ExitCode> {
    let (b, a) = (decide::read_side(before)?, decide::read_side(after)?);
    let page = decide::report(&b, &a, lang)?;
    std::fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "wrote {}: open it in a browser, or print it to PDF",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The flag that sets the simulator's input `field`.
fn flag_of(field: &str) -> String {
    let flag = match field {
        "monthly_api_spend" => "monthly-spend",
        "mean_response_s" => "mean-response",
        "error_rate_percent" => "error-rate",
        "cache_hit_rate_percent" => "cache-hit-rate",
        "latency_reduction_percent" => "latency-reduction",
        "error_reduction_percent" => "error-reduction",
        "stack_monthly_cost" => "stack-cost",
        other => return format!("--{}", other.replace('_', "-")),
    };
    format!("--{flag}")
}

fn simulate_cli(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let mut input = SimInput::today(
        args.currency,
        args.monthly_spend,
        args.mean_response.unwrap_or(0.0),
        args.daily_requests,
        args.error_rate.unwrap_or(0.0),
    );
    input.model = args.model.clone();
    input.switch_to = args.switch_to.clone();
    input.setup_hours = args.setup_hours;
    input.hourly_rate = args.hourly_rate;
    input.stack_monthly_cost = args.stack_cost;
    input.value_per_user_hour = args.value_per_user_hour;
    input.cost_per_error = args.cost_per_error;
    if let Some([before, after]) = args.from.as_deref() {
        let (b, a) = (decide::read_side(before)?, decide::read_side(after)?);
        decide::measured_input(&b, &a, &mut input)?;
    }
    // Explicit figures win over measured ones.
    input.mean_response_s = args.mean_response.unwrap_or(input.mean_response_s);
    input.error_rate_percent = args.error_rate.unwrap_or(input.error_rate_percent);
    input.cache_hit_rate_percent = args.cache_hit_rate.or(input.cache_hit_rate_percent);
    input.latency_reduction_percent = args.latency_reduction.or(input.latency_reduction_percent);
    input.error_reduction_percent = args.error_reduction.or(input.error_reduction_percent);
    let settings = ragtrace_core::config::Settings::load(&Default::default())
        .context("cannot load the configuration (its [pricing] table prices a model switch)")?;
    let out = ragtrace_core::simulate::simulate(&input, &settings.pricing)
        .map_err(|e| anyhow::anyhow!("{} {}: {}", flag_of(e.field), e.rule, e.hint))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", decide::table(&out));
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compare { before, after } => compare_files(&before, &after),
        Command::Report {
            before,
            after,
            out,
            lang,
        } => report_files(&before, &after, &out, lang),
        Command::Simulate(args) => simulate_cli(&args),
        command => runtime(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ragtrace-lab: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn read_report(path: &Path) -> anyhow::Result<RunReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a ragtrace-lab report", path.display()))
}

fn compare_files(before: &Path, after: &Path) -> anyhow::Result<ExitCode> {
    let (b, a) = (read_report(before)?, read_report(after)?);
    print!("{}", compare(&b, &a)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "embedded-app")]
fn runtime(command: Command) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(dispatch(command))
}

#[cfg(not(feature = "embedded-app"))]
fn runtime(command: Command) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(dispatch(command))
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            case,
            phase,
            requests,
            duration,
            users,
            out,
            target,
            data_dir,
            points,
            scenario,
            minutes,
            hold,
        } => {
            if case == Case::Transcription {
                if hold {
                    anyhow::bail!(
                        "--hold keeps a chat case's app serving; transcription runs in ragtrace-ingest"
                    );
                }
                deliver(
                    &run_transcription(&data_dir, minutes, phase)?,
                    out.as_deref(),
                )?;
            } else {
                let plan = case.plan(requests, duration, users.map(usize::from));
                let scenario = scenario.unwrap_or_else(|| case.scenario().to_owned());
                let run = ChatRun {
                    case,
                    phase,
                    plan,
                    scenario: &scenario,
                    out: out.as_deref(),
                    hold,
                };
                run_chat(run, target, &data_dir, points).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Load {
            target,
            mix,
            users,
            think_ms,
            duration,
            requests,
        } => {
            let app = App::connect(&target).await?;
            let plan = load::LoadPlan {
                stages: vec![load::LoadStage {
                    users: users.max(1),
                    secs: 1.0,
                }],
                think_ms,
                max_requests: requests,
                max_secs: if duration == 0 {
                    u64::MAX / 2
                } else {
                    duration
                },
            };
            let salt = rand::random::<u64>();
            let counter = ProgressBar::hidden();
            eprintln!(
                "ragtrace-lab load: {} users asking {} questions of {}, {think_ms} ms think time",
                plan.peak_users(),
                mix.as_str(),
                app.base
            );
            let ticker = {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(Duration::from_secs(10));
                    every.tick().await;
                    loop {
                        every.tick().await;
                        eprintln!("{} requests sent", counter.position());
                    }
                })
            };
            let samples = load::run(
                &app.http,
                &app.base,
                &plan,
                "lab-load",
                Arc::new(move |n| ragtrace_lab::case::question(mix, n, salt)),
                &counter,
            )
            .await;
            ticker.abort();
            let failed = samples.iter().filter(|s| s.status != 200).count();
            eprintln!("{} requests, {failed} not answered 200", samples.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Corpus { out, points } => write_corpus(&out, points),
        Command::Eval {
            golden,
            target,
            out,
            data_dir,
            worst,
            retrieval,
        } => {
            if target.is_some() && retrieval.is_some() {
                anyhow::bail!(
                    "--retrieval applies to the in-process app; set chat.retrieval \
                     (RAGTRACE__CHAT__RETRIEVAL) on the target instead"
                );
            }
            run_eval(&golden, target, out.as_deref(), &data_dir, worst, retrieval).await
        }
        Command::Compare { .. } | Command::Report { .. } | Command::Simulate(_) => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// A progress bar on a terminal, nothing off one.
fn progress(len: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal as _;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Prints the report's table and, with `out`, writes its JSON.
fn deliver(report: &RunReport, out: Option<&Path>) -> anyhow::Result<()> {
    print!("{}", report.table());
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(report)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(())
}

/// One phase of a chat case, as asked on the command line.
struct ChatRun<'a> {
    case: Case,
    phase: Phase,
    plan: load::LoadPlan,
    scenario: &'a str,
    out: Option<&'a Path>,
    hold: bool,
}

/// Whether the request of `trace_id` called the product catalog, from its trace; without a trace
/// store, whether the answer has product sources.
/// What a chat request's trace says: whether it called the product catalog, how it retrieved,
/// and where the expected source ranked ([`ragtrace_lab::eval::TraceFacts`]).
async fn trace_facts(
    app: &App,
    trace_id: &str,
    resp: &serde_json::Value,
) -> ragtrace_lab::eval::TraceFacts {
    use ragtrace_core::semconv::{attr, span};
    let url = format!("{}/api/traces/{trace_id}", app.base);
    for _ in 0..20 {
        let Ok(r) = app.http.get(&url).send().await else {
            break;
        };
        if !r.status().is_success() {
            break;
        }
        let trace: serde_json::Value = r.json().await.unwrap_or_default();
        let spans = trace["spans"].as_array().cloned().unwrap_or_default();
        let named = |name: &str| spans.iter().find(|s| s["name"] == name);
        // The pipeline's span ends last: once it is in, the trace is whole.
        if named(span::CHAT_PIPELINE).is_some() {
            let retrieval = named(span::RETRIEVAL);
            let attribute = |key: &str| {
                retrieval
                    .and_then(|s| s["attributes"].as_array())
                    .and_then(|a| a.iter().find(|kv| kv[0] == key))
                    .map(|kv| kv[1].clone())
            };
            return ragtrace_lab::eval::TraceFacts {
                catalog_called: named(span::TOOL_PRODUCT_SEARCH).is_some(),
                retrieval: attribute(attr::RETRIEVAL_MODE)
                    .and_then(|v| v.as_str().map(str::to_owned)),
                expected_rank: attribute(attr::RETRIEVAL_EXPECTED_RANK).and_then(|v| v.as_u64()),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ragtrace_lab::eval::TraceFacts {
        catalog_called: resp["sources"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["source"] == "catalog")),
        ..Default::default()
    }
}

/// The app a command drives: the running one at `target`, or one `start` launches in-process
/// (returned too, for the caller to stop).
async fn drive<Fut>(
    target: Option<String>,
    start: impl FnOnce() -> Fut,
) -> anyhow::Result<(App, String, Option<embedded::Embedded>)>
where
    Fut: std::future::Future<Output = anyhow::Result<embedded::Embedded>>,
{
    match target {
        Some(url) => Ok((App::connect(&url).await?, url, None)),
        None => {
            let started = start().await?;
            let app = App::connect(&started.base).await?;
            Ok((app, "in-process".to_owned(), Some(started)))
        }
    }
}

async fn run_eval(
    golden: &Path,
    target: Option<String>,
    out: Option<&Path>,
    data_dir: &Path,
    worst: usize,
    retrieval: Option<ragtrace_core::vector_store::Retrieval>,
) -> anyhow::Result<ExitCode> {
    let set = ragtrace_lab::eval::read_golden(golden)?;
    let (app, driven, embedded) =
        drive(target, || embedded::start_eval(data_dir, retrieval)).await?;
    eprintln!(
        "eval: {} questions from {} to {driven}",
        set.len(),
        golden.display()
    );
    let started_at = now_rfc3339();
    let user_id = format!("lab-eval-{:08x}", rand::random::<u32>());
    let bar = progress(set.len() as u64, "questions");
    let mut scored = Vec::with_capacity(set.len());
    for g in &set {
        let mut request = app
            .http
            .post(format!("{}/v1/chat", app.base))
            .json(&serde_json::json!({"question": g.question, "user_id": user_id}));
        if g.kind != ragtrace_lab::eval::Kind::Product {
            // The app records where the expected passage ranked on the retrieval span.
            request = request.header("x-ragtrace-expect-sources", g.sources.join(","));
        }
        let resp: serde_json::Value = request
            .send()
            .await
            .with_context(|| format!("{}: no answer", g.id))?
            .json()
            .await
            .with_context(|| format!("{}: the answer is not JSON", g.id))?;
        anyhow::ensure!(
            resp["answer"].is_string(),
            "{}: the app answered with an error: {resp}",
            g.id
        );
        let facts = trace_facts(&app, resp["trace_id"].as_str().unwrap_or_default(), &resp).await;
        scored.push(ragtrace_lab::eval::score(g, &resp, &facts));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut report = ragtrace_lab::eval::EvalReport::new(
        started_at,
        golden.display().to_string(),
        driven,
        scored,
    );
    report.user_id = Some(user_id.clone());
    print!("{}", report.table(worst));
    if embedded.is_none() {
        eprintln!(
            "quality beside time: {}/ui/#/breakdown?user_id={user_id}",
            app.base
        );
    }
    if let Some(path) = out {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(e) = embedded {
        e.stop().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a chat case against `target` or an in-process app, and delivers its report.
async fn run_chat(
    run: ChatRun<'_>,
    target: Option<String>,
    data_dir: &Path,
    points: u64,
) -> anyhow::Result<()> {
    let ChatRun {
        case,
        phase,
        plan,
        scenario,
        out,
        hold,
    } = run;
    let (app, driven, embedded) = drive(target, || embedded::start(case, data_dir, points)).await?;
    eprintln!("{} / {phase:?}: driving {driven}", case.as_str());
    app.set_scenario(scenario).await?;
    let asked = case.fixes(phase);
    let mut in_force = app.set_fixes(&asked).await?;
    if case == Case::DocSearch && phase == Phase::After {
        let built = app.build_index().await?;
        eprintln!(
            "index built in {:.1} s: {} of {} vectors indexed",
            built["seconds"].as_f64().unwrap_or(0.0),
            built["after"]["indexed_vectors"],
            built["after"]["points"]
        );
        in_force = app.set_fixes(&serde_json::json!({})).await?;
    }
    let run_id = rand::random::<u32>();
    let warmup = case.warmup();
    if !warmup.is_empty() {
        eprintln!("warming up: {} questions, not measured", warmup.len());
        let plan = load::LoadPlan {
            stages: vec![load::LoadStage {
                users: warmup.len(),
                secs: 0.1,
            }],
            think_ms: 0,
            max_requests: Some(warmup.len() as u64),
            max_secs: 60,
        };
        let questions = Arc::new(warmup);
        load::run(
            &app.http,
            &app.base,
            &plan,
            &format!("lab-warmup-{run_id:08x}"),
            Arc::new(move |n| questions[n as usize % questions.len()].clone()),
            &ProgressBar::hidden(),
        )
        .await;
    }
    let user_id = format!("lab-{}-{}-{run_id:08x}", case.as_str(), phase_name(phase));
    let before = app.metrics().await?;
    let started_at = now_rfc3339();
    let bar = progress(plan.max_requests.unwrap_or(0), "requests");
    let clock = Instant::now();
    let salt = u64::from(run_id);
    let samples = load::run(
        &app.http,
        &app.base,
        &plan,
        &user_id,
        Arc::new(move |n| ragtrace_lab::case::question(case, n, salt)),
        &bar,
    )
    .await;
    let seconds = clock.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // The last spans end just after their responses.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delta = app.metrics().await?.since(&before);
    let summary = app.summary(&user_id).await?;
    let unanswered = samples.iter().filter(|s| s.status == 0).count();
    if unanswered > 0 {
        eprintln!("{unanswered} requests got no answer at all (connection failed or timed out)");
    }
    // The run's own requests and failures, from its own samples: the app's counters also count
    // other clients' requests (a shared app, the compose stack's load generator).
    let mut counted = Counted::from_metrics(&delta);
    counted.requests = samples.iter().filter(|s| s.status != 0).count() as u64;
    counted.errors = samples.iter().filter(|s| s.status >= 500).count() as u64;
    let mut report = RunReport::from_run(
        case,
        phase,
        started_at,
        seconds,
        &counted,
        &summary,
        settings(scenario, &asked, &in_force, &driven),
    )?;
    if let Some(points) = in_force["vector_index"]["points"].as_u64() {
        report.settings["points"] = points.into();
    }
    deliver(&report, out)?;
    if let Some(e) = embedded {
        if hold {
            eprintln!(
                "the app keeps serving this run's traces: {}/ui/#/traces?user_id={user_id} (Ctrl-C to stop)",
                e.base
            );
            tokio::signal::ctrl_c().await?;
        }
        e.stop().await;
    }
    Ok(())
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Before => "before",
        Phase::After => "after",
    }
}

fn run_transcription(data_dir: &Path, minutes: u32, phase: Phase) -> anyhow::Result<RunReport> {
    let ingest = transcription::ingest_binary()?;
    let dir = data_dir.join("transcription");
    let wav = transcription::meeting(&ingest, &dir, minutes)?;
    let started_at = now_rfc3339();
    eprintln!(
        "transcription / {phase:?}: {minutes} min meeting, {}",
        wav.display()
    );
    let trace_file = dir.join(format!("{}.trace.json", phase_name(phase)));
    let job = transcription::transcribe(&ingest, &dir.join("store"), &wav, phase, &trace_file)?;
    eprintln!(
        "the job's trace: {} (open it in ragtrace: Traces → Open a trace file)",
        trace_file.display()
    );
    let seconds = job["seconds"].as_f64().unwrap_or(0.0);
    let chunks = job["chunks"].as_u64().unwrap_or(0);
    let failed = job["failed_chunks"].as_u64().unwrap_or(0);
    let ms = seconds * 1000.0;
    let latency = ragtrace_core::trace_store::summary::Latency {
        mean: ms,
        p50: ms,
        p95: ms,
        p99: ms,
        max: ms,
    };
    Ok(RunReport {
        schema: ragtrace_lab::report::SCHEMA,
        case: Case::Transcription,
        phase,
        started_at,
        seconds,
        requests: chunks,
        errors: failed,
        error_rate: if chunks > 0 {
            failed as f64 / chunks as f64
        } else {
            0.0
        },
        latency_ms: latency,
        histogram: ragtrace_core::trace_store::summary::histogram(&[ms]),
        traces: 0,
        stages: Vec::new(),
        slowest_stage: None,
        overlapped: Vec::new(),
        cache_hit_rate: 0.0,
        catalog_cache_hit_rate: None,
        cost_usd_per_1k_requests: 0.0,
        settings: serde_json::json!({
            "scenario": Case::Transcription.scenario(),
            "fixes": {"strategy": job["strategy"], "batch_size": job["batch_size"]},
            "minutes": minutes,
            "target": "ragtrace-ingest transcribe",
            "trace_file": trace_file.display().to_string(),
        }),
        chunks: Some(chunks),
        failed_chunks: Some(failed),
        peak_rss_bytes: job["peak_rss_bytes"].as_u64(),
    })
}

#[cfg(feature = "embedded-app")]
fn write_corpus(out: &Path, points: u64) -> anyhow::Result<ExitCode> {
    let demo = embedded::demo_corpus();
    let docs = ragtrace_lab::corpus::synthesize(&demo, points as usize);
    ragtrace_lab::corpus::write(&docs, out)?;
    eprintln!(
        "{} documents written under {}; ingest them with `ragtrace-ingest {}`",
        docs.len(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "embedded-app"))]
fn write_corpus(_out: &Path, _points: u64) -> anyhow::Result<ExitCode> {
    bail!("this build has no demo corpus (feature embedded-app)")
}

/// A build without the feature `embedded-app` starts nothing in-process: every run needs
/// `--target`.
#[cfg(not(feature = "embedded-app"))]
mod embedded {
    use std::path::Path;

    use ragtrace_lab::case::Case;

    const NEEDS_TARGET: &str = "this build runs against a running app only: give --target URL";

    /// An in-process app, which this build cannot make.
    pub struct Embedded {
        pub base: String,
        never: std::convert::Infallible,
    }

    impl Embedded {
        pub async fn stop(self) {
            match self.never {}
        }
    }

    pub async fn start(_: Case, _: &Path, _: u64) -> anyhow::Result<Embedded> {
        anyhow::bail!(NEEDS_TARGET)
    }

    pub async fn start_eval(
        _: &Path,
        _: Option<ragtrace_core::vector_store::Retrieval>,
    ) -> anyhow::Result<Embedded> {
        anyhow::bail!(NEEDS_TARGET)
    }
}

/// The app in-process, with a case's settings.
#[cfg(feature = "embedded-app")]
mod embedded {
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, OnceLock};

    use anyhow::Context as _;
    use ragtrace::startup::Application;
    use ragtrace_core::config::{Overrides, Settings};
    use ragtrace_core::trace_store::TraceStore;
    use ragtrace_lab::case::Case;
    use tokio_util::sync::CancellationToken;

    /// The process's trace store and telemetry, set up once (a process has one tracer).
    fn traces() -> Arc<TraceStore> {
        static STORE: OnceLock<Arc<TraceStore>> = OnceLock::new();
        STORE
            .get_or_init(|| {
                let store = Arc::new(TraceStore::new(100_000, 1 << 30));
                let mut t = settings(Case::Chatbot, Path::new("."))
                    .expect("defaults")
                    .telemetry;
                t.log_filter = "warn".into();
                let guard = ragtrace_core::telemetry::init(
                    &t,
                    ragtrace_core::trace_store::sinks(Some(&store)),
                    true,
                )
                .expect("telemetry");
                // Spans live as long as the process; nothing is exported to flush.
                std::mem::forget(guard);
                store
            })
            .clone()
    }

    /// The case's settings: the embedded backends only (a shell's OPENAI_API_KEY or QDRANT_URL
    /// does not leak into a lab run), every trace kept, and the case's own knobs.
    fn settings(case: Case, data_dir: &Path) -> anyhow::Result<Settings> {
        let mut env: std::collections::BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("RAGTRACE__"))
            .collect();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_owned(), v.to_owned());
        };
        set("RAGTRACE__SERVER__ADDR", "127.0.0.1:0");
        set("RAGTRACE__TRACE_STORE__KEEP_ALL", "true");
        set("RAGTRACE__TELEMETRY__LOG_FILTER", "warn");
        set(
            "RAGTRACE__SIMULATOR__PROFILE",
            &format!("scenario={}", case.scenario()),
        );
        match case {
            // Every question goes through the pipeline: case study 1 is about the product
            // search's cache, not the answer cache.
            Case::Chatbot => set("RAGTRACE__CHAT__ANSWER_CACHE_TTL_SECS", "0"),
            // Callers queue for the pool instead of failing after the default 5 s. The case is
            // about the dense vectors' HNSW index and the pool in front of it, measured with
            // dense retrieval: the sparse leg is kept out of its figures.
            Case::DocSearch => {
                set("RAGTRACE__VECTOR_STORE__POOL_TIMEOUT_MS", "120000");
                set("RAGTRACE__CHAT__DEADLINE_MS", "120000");
                set("RAGTRACE__CHAT__RETRIEVAL", "dense");
            }
            Case::Transcription => {}
        }
        Ok(Settings::load_from(
            &Overrides {
                data_dir: Some(data_dir.to_path_buf()),
                ..Overrides::default()
            },
            &env,
        )?)
    }

    /// An app started in-process.
    pub struct Embedded {
        pub base: String,
        state: actix_web::web::Data<ragtrace::state::AppState>,
        handle: actix_web::dev::ServerHandle,
        task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    }

    impl Embedded {
        /// Stops it and waits until it has released its data dir (the edge shard flushes when
        /// the last reference to it goes).
        pub async fn stop(self) {
            self.handle.stop(true).await;
            let _ = self.task.await;
            drop(self.state);
        }
    }

    async fn launch(case: Case, data_dir: &Path) -> anyhow::Result<Embedded> {
        launch_with(settings(case, data_dir)?).await
    }

    async fn launch_with(settings: Settings) -> anyhow::Result<Embedded> {
        let app = Application::build(settings, Some(traces())).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let handle = app.handle();
        let task = actix_web::rt::spawn(app.run_until_stopped());
        Ok(Embedded {
            base,
            state,
            handle,
            task,
        })
    }

    /// The demo corpus's documents as (title, text).
    pub fn demo_corpus() -> Vec<(String, String)> {
        ragtrace::seed::corpus_documents()
            .into_iter()
            .map(|d| (d.title, d.text))
            .collect()
    }

    /// Starts the app on the embedded defaults for `ragtrace-lab eval`: the demo corpus, the
    /// simulator's instant scenario (quality does not depend on latency), no answer cache.
    pub async fn start_eval(
        data_dir: &Path,
        retrieval: Option<ragtrace_core::vector_store::Retrieval>,
    ) -> anyhow::Result<Embedded> {
        let mut s = settings(Case::Chatbot, &data_dir.join("eval"))?;
        s.simulator.profile = "scenario=instant".to_owned();
        if let Some(r) = retrieval {
            s.chat.retrieval = r;
        }
        launch_with(s).await
    }

    /// Starts the app for `case`. Doc-search runs on a fresh copy of a collection of `points`
    /// built once under `data_dir` (so "before" always starts unindexed).
    pub async fn start(case: Case, data_dir: &Path, points: u64) -> anyhow::Result<Embedded> {
        let dir = data_dir.join(case.as_str());
        if case != Case::DocSearch {
            return launch(case, &dir).await;
        }
        let pristine = dir.join("pristine");
        let marker = pristine.join(format!("{points}.points"));
        if !marker.is_file() {
            let _ = std::fs::remove_dir_all(&pristine);
            build_collection(&pristine, points).await?;
            std::fs::write(&marker, b"")?;
        }
        let run = dir.join("run");
        let _ = std::fs::remove_dir_all(&run);
        copy_dir(&pristine, &run)?;
        launch(case, &run).await
    }

    /// The demo corpus plus `points` synthetic documents, indexed into `dir`.
    async fn build_collection(dir: &Path, points: u64) -> anyhow::Result<()> {
        eprintln!(
            "building the doc-search collection: {points} synthetic documents from the demo corpus (once)"
        );
        let app = launch(Case::DocSearch, dir).await?;
        let settings = settings(Case::DocSearch, dir)?;
        // The shard is open in the app, so the documents go in through its own adapters, with
        // the ingest pipeline `ragtrace-ingest` runs (chunking, batched embeddings, upserts).
        let p = &app.state.pipeline;
        let ingestor = ragtrace_ingest::setup::ingestor(&settings, p.store.clone(), p.llm.clone());
        let docs: Vec<_> = ragtrace_lab::corpus::synthesize(&demo_corpus(), points as usize)
            .into_iter()
            .filter_map(|d| {
                let format = ragtrace_core::queue::Format::Markdown;
                ragtrace_ingest::extract::extract(&d.source, d.text.as_bytes(), format).ok()
            })
            .collect();
        let display = ragtrace_ingest::setup::Display::new();
        let reports = ingestor
            .ingest(docs, &display, &CancellationToken::new())
            .await;
        display.finish();
        drop(ingestor);
        let failed = reports.iter().filter(|r| r.failure.is_some()).count();
        app.stop().await;
        anyhow::ensure!(
            failed == 0,
            "{failed} synthetic documents could not be ingested"
        );
        Ok(())
    }

    fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry?;
            let target: PathBuf = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy_dir(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), &target)?;
            }
        }
        Ok(())
    }
}
