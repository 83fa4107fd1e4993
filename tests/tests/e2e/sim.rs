//! The simulator is a real OpenAI-compatible service: async-openai talks to it, and its fault
//! profiles produce the documented answers.

use std::net::TcpListener;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures::StreamExt as _;
use ragtrace_sim::profile::Profiles;
use ragtrace_sim::{RunningSim, SimOptions};
use ragtrace_tests::get_json;
use serde_json::{Value, json};

fn start() -> RunningSim {
    ragtrace_sim::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        SimOptions {
            profiles: Profiles::instant(),
            ..SimOptions::default()
        },
    )
    .unwrap()
}

fn client(sim: &RunningSim) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(sim.openai_base_url())
            .with_api_key("sk-test"),
    )
}

const PROMPT: &str = "Context:\n[1] Parental leave (docs/hr-parental-leave.md)\nBirth parents get 20 weeks of paid parental leave. \
It can be split in two blocks.\n\n[2] VPN\nThe VPN client is called Harbor.\n\nQuestion: How many weeks of parental leave do birth parents get?";

/// async-openai's chat client gets an extractive, cited answer with usage, plain and streamed.
#[actix_web::test]
async fn async_openai_chat_plain_and_streamed() {
    let sim = start();
    let c = client(&sim);
    let req = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages(vec![ChatCompletionRequestUserMessage::from(PROMPT).into()])
        .build()
        .unwrap();
    let resp = c.chat().create(req.clone()).await.unwrap();
    assert_eq!(
        resp.model, "sim-gpt-4o-mini",
        "the model name says it is simulated"
    );
    let text = resp.choices[0].message.content.clone().unwrap();
    assert!(text.contains("20 weeks") && text.contains("[1]"), "{text}");
    assert!(
        !text.contains("Harbor"),
        "only relevant passages are quoted"
    );
    let usage = resp.usage.unwrap();
    assert!(usage.prompt_tokens > 20 && usage.completion_tokens > 5);

    let mut sreq = req;
    // async-openai's `byot` feature (on in this workspace) leaves `stream` as given.
    sreq.stream = Some(true);
    sreq.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    let mut stream = c.chat().create_stream(sreq).await.unwrap();
    let (mut streamed, mut final_usage) = (String::new(), None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for ch in &chunk.choices {
            if let Some(t) = &ch.delta.content {
                streamed.push_str(t);
            }
        }
        if chunk.usage.is_some() {
            final_usage = chunk.usage;
        }
    }
    assert_eq!(streamed, text);
    assert_eq!(
        final_usage.unwrap().completion_tokens,
        usage.completion_tokens
    );
    sim.handle.stop(true).await;
}

/// Embeddings are deterministic, of the requested dimension, in order, with token usage.
#[actix_web::test]
async fn async_openai_embeddings_are_deterministic() {
    let sim = start();
    let c = client(&sim);
    let req = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec![
            "reset the hub".to_owned(),
            "parental leave".to_owned(),
        ])
        .dimensions(64u32)
        .build()
        .unwrap();
    let a = c.embeddings().create(req.clone()).await.unwrap();
    let b = c.embeddings().create(req).await.unwrap();
    assert_eq!(a.data.len(), 2);
    assert_eq!(a.data[0].embedding.len(), 64);
    assert_eq!(a.data[0].embedding, b.data[0].embedding);
    assert_ne!(a.data[0].embedding, a.data[1].embedding);
    assert!(a.usage.prompt_tokens > 0);
    sim.handle.stop(true).await;
}

/// Fault profiles set through the admin API: 500s, 429s with Retry-After, hangs, and bad input.
#[actix_web::test]
async fn admin_profiles_drive_faults() {
    let sim = start();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let base = format!("http://{}", sim.addr);
    let chat = || {
        http.post(format!("{base}/v1/chat/completions"))
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let put = |body: Value| {
        http.put(format!("{base}/admin/profiles/chat"))
            .json(&body)
            .send()
    };

    assert_eq!(put(json!({"error_rate": 1.0})).await.unwrap().status(), 200);
    let r = chat().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );

    assert_eq!(
        put(json!({"error_rate": 0.0, "rate_limit_rate": 1.0, "retry_after_secs": 7}))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = chat().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    assert_eq!(
        put(json!({"rate_limit_rate": 0.0, "hang_rate": 1.0}))
            .await
            .unwrap()
            .status(),
        200
    );
    let err = chat().await.unwrap_err();
    assert!(err.is_timeout(), "a hang is a hang: {err}");

    // Invalid updates are refused with the field named; nothing changes.
    let r = put(json!({"hang_rate": 0.5, "error_rate": 0.7}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = put(json!({"speed": 1})).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(format!("{base}/admin/scenarios/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A web page (any Origin) cannot switch faults on: its changes are refused, unapplied.
    for r in [
        http.post(format!("{base}/admin/scenarios/llm-errors"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
        http.put(format!("{base}/admin/profiles/chat"))
            .header("origin", "http://127.0.0.1:8080")
            .json(&json!({"error_rate": 1.0}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "permission_error", "{body}");
    }
    let profiles = get_json(&http, format!("{base}/admin/profiles")).await;
    assert_ne!(profiles["chat"]["error_rate"], 1.0, "{profiles}");

    // A scenario resets everything in one call.
    let r = http
        .post(format!("{base}/admin/scenarios/instant"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(chat().await.unwrap().status(), 200);

    // Catalog search and its validation.
    let r = get_json(
        &http,
        format!("{base}/catalog/search?q=motion+sensor&limit=3"),
    )
    .await;
    assert_eq!(r["results"].as_array().unwrap().len(), 3);
    let r = http
        .get(format!("{base}/catalog/search?q="))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{base}/catalog/search?q=x&limit=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Sorted by price: cheapest first among the plugs; an unknown order is a 400.
    let r = get_json(
        &http,
        format!("{base}/catalog/search?q=smart+plug&limit=5&sort=price"),
    )
    .await;
    let prices: Vec<f64> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price_usd"].as_f64().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{r}");
    let r = http
        .get(format!("{base}/catalog/search?q=plug&sort=colour"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let models = get_json(&http, format!("{base}/v1/models")).await;
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"].as_str().unwrap().starts_with("sim-"))
    );
    sim.handle.stop(true).await;
}

/// The app asks for embeddings as base64 (`encoding_format: "base64"`) and reads them, and reads
/// the same vectors from a server that ignores the parameter and answers with floats.
#[actix_web::test]
async fn the_app_reads_embeddings_as_base64_and_as_floats() {
    use std::sync::{Arc, Mutex};
    let texts = vec!["reset the hub".to_owned(), "parental leave".to_owned()];
    let dir = tempfile::tempdir().unwrap();
    let settings = ragtrace_tests::test_settings(dir.path(), &[]);
    let llm = |url: &str| {
        settings
            .llm
            .build(url, &settings.pricing, false, 64)
            .unwrap()
    };
    // The simulator answers in the format asked for.
    let sim = start();
    let from_sim = llm(&sim.openai_base_url())
        .embed(texts.clone())
        .await
        .unwrap()
        .vectors;
    // A server that only speaks floats, and records what it was asked.
    let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = asked.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = actix_web::HttpServer::new(move || {
        let seen = seen.clone();
        actix_web::App::new().route(
            "/v1/embeddings",
            actix_web::web::post().to(move |body: actix_web::web::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let inputs: Vec<String> =
                        serde_json::from_value(body["input"].clone()).unwrap();
                    let dim = body["dimensions"].as_u64().unwrap() as usize;
                    seen.lock().unwrap().push(body.into_inner());
                    let data: Vec<Value> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            json!({"object": "embedding", "index": i,
                                   "embedding": ragtrace_sim::embeddings::embed(t, dim)})
                        })
                        .collect();
                    actix_web::HttpResponse::Ok().json(json!({
                        "object": "list", "data": data, "model": "floats-only",
                        "usage": {"prompt_tokens": 4, "total_tokens": 4},
                    }))
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let from_floats = llm(&format!("http://{addr}/v1"))
        .embed(texts.clone())
        .await
        .unwrap()
        .vectors;
    let expected: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| ragtrace_sim::embeddings::embed(t, 64))
        .collect();
    assert_eq!(from_sim, expected, "read from base64");
    assert_eq!(from_floats, expected, "read from floats");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["encoding_format"], "base64", "{}", asked[0]);
    handle.stop(true).await;
    sim.handle.stop(true).await;
}
