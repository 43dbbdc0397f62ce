//! Where the one SDK client sends its requests, for every endpoint source
//! and region rule, without any network: an interceptor records the URI of
//! the signed request and stops it before it is sent.
//!
//! One test function on purpose: each case sets process environment
//! variables, so the cases run one after another in this binary's own
//! process.

// Test code: its helpers too may unwrap, expect and panic (a failed
// assumption is a failed test).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sessionstore_dynamodb_rs::error::StoreError;
use aws_sessionstore_dynamodb_rs::ops::connect;
use aws_sessionstore_dynamodb_rs::ops::connect::ClientOptions;
use aws_smithy_runtime_api::box_error::BoxError;

/// Records the request URI, then fails the attempt so nothing is sent.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Option<String>>>);

const STOP: &str = "recorded; not sent";

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock().unwrap() = Some(context.request().uri().to_string());
        Err(STOP.into())
    }
}

const VARS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

struct Case {
    name: &'static str,
    env: Vec<(&'static str, String)>,
    endpoint_option: Option<&'static str>,
    region_option: Option<&'static str>,
    expected: &'static str,
}

fn case(name: &'static str, env: &[(&'static str, &str)], expected: &'static str) -> Case {
    Case {
        name,
        env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        endpoint_option: None,
        region_option: None,
        expected,
    }
}

/// The URI the request would have gone to, or the SDK's error when it
/// refused to resolve one.
fn resolved(runtime: &tokio::runtime::Runtime, case: &Case) -> Result<String, String> {
    for var in VARS {
        std::env::remove_var(var);
    }
    for (var, value) in &case.env {
        std::env::set_var(var, value);
    }
    let options = ClientOptions {
        endpoint: case.endpoint_option.map(str::to_string),
        region: case.region_option.map(str::to_string),
        access_key_id: Some("dummy".into()),
        secret_access_key: Some("dummy".into()),
        ..ClientOptions::default()
    };
    let recorder = Recorder::default();
    let seen = recorder.0.clone();
    runtime.block_on(async {
        let client = connect::build_with(options, |config| config.interceptor(recorder))
            .await
            .unwrap_or_else(|e| panic!("{}: client not built: {e}", case.name));
        let outcome = client
            .get_item()
            .table_name("sessions")
            .key(
                "session_id",
                aws_sdk_dynamodb::types::AttributeValue::S("x".into()),
            )
            .send()
            .await;
        let error = match outcome {
            Ok(_) => panic!("{}: the request was sent", case.name),
            Err(e) => format!("{:?}", StoreError::from_sdk(e)),
        };
        seen.lock().unwrap().take().ok_or(error)
    })
}

#[test]
fn endpoint_sources_and_region_rules() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let dir = std::env::temp_dir().join(format!("endpoint-resolution-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("config");
    std::fs::write(
        &profile,
        "[profile global]\nregion = us-west-2\nendpoint_url = http://127.0.0.1:4444\n\n\
         [profile services]\nregion = us-west-2\nendpoint_url = http://127.0.0.1:4444\nservices = local\n\n\
         [services local]\ndynamodb =\n  endpoint_url = http://127.0.0.1:5555\n",
    )
    .unwrap();
    let profile = profile.to_string_lossy().to_string();
    let with_profile = |name: &str| -> Vec<(&'static str, String)> {
        vec![
            ("AWS_CONFIG_FILE", profile.clone()),
            ("AWS_PROFILE", name.to_string()),
        ]
    };

    let mut cases = vec![
        // Region rules, as the SDK's endpoint rules resolve them.
        case(
            "commercial region",
            &[("AWS_REGION", "us-east-1")],
            "https://dynamodb.us-east-1.amazonaws.com/",
        ),
        case(
            "FIPS",
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "true"),
            ],
            "https://dynamodb-fips.us-east-1.amazonaws.com/",
        ),
        case(
            "dual-stack",
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
            ],
            "https://dynamodb.eu-west-1.api.aws/",
        ),
        case(
            "FIPS and dual-stack",
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "true"),
                ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
            ],
            "https://dynamodb-fips.us-east-1.api.aws/",
        ),
        case(
            "aws-cn partition",
            &[("AWS_REGION", "cn-north-1")],
            "https://dynamodb.cn-north-1.amazonaws.com.cn/",
        ),
        case(
            "aws-us-gov partition",
            &[("AWS_REGION", "us-gov-west-1")],
            "https://dynamodb.us-gov-west-1.amazonaws.com/",
        ),
        case(
            "aws-iso partition",
            &[("AWS_REGION", "us-iso-east-1")],
            "https://dynamodb.us-iso-east-1.c2s.ic.gov/",
        ),
        case(
            "aws-iso-b partition",
            &[("AWS_REGION", "us-isob-east-1")],
            "https://dynamodb.us-isob-east-1.sc2s.sgov.gov/",
        ),
        // Configured endpoints, highest first.
        case(
            "AWS_ENDPOINT_URL",
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1111"),
            ],
            "http://127.0.0.1:1111/",
        ),
        case(
            "AWS_ENDPOINT_URL_DYNAMODB over AWS_ENDPOINT_URL",
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1111"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2222"),
            ],
            "http://127.0.0.1:2222/",
        ),
        case(
            "an endpoint and no region: signed for us-east-1",
            &[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2222")],
            "http://127.0.0.1:2222/",
        ),
    ];
    let mut over_everything = case(
        "the endpoint option over every other source",
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1111"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2222"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "false"),
        ],
        "http://127.0.0.1:3333/",
    );
    over_everything.endpoint_option = Some("http://127.0.0.1:3333");
    cases.push(over_everything);
    let mut region_option = case(
        "the region option over AWS_REGION",
        &[("AWS_REGION", "us-east-1")],
        "https://dynamodb.ap-southeast-2.amazonaws.com/",
    );
    region_option.region_option = Some("ap-southeast-2");
    cases.push(region_option);
    cases.push(Case {
        name: "the profile's endpoint_url",
        env: with_profile("global"),
        endpoint_option: None,
        region_option: None,
        expected: "http://127.0.0.1:4444/",
    });
    cases.push(Case {
        name: "the profile's [services] section over its endpoint_url",
        env: with_profile("services"),
        endpoint_option: None,
        region_option: None,
        expected: "http://127.0.0.1:5555/",
    });
    let mut env_over_profile = with_profile("services");
    env_over_profile.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:1111".into()));
    cases.push(Case {
        name: "AWS_ENDPOINT_URL over the profile",
        env: env_over_profile,
        endpoint_option: None,
        region_option: None,
        expected: "http://127.0.0.1:1111/",
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut wrong = Vec::new();
    for case in &cases {
        match resolved(&runtime, case) {
            Ok(uri) => {
                println!("{:<55} {uri}", case.name);
                if uri != case.expected {
                    wrong.push(format!("{}: {uri} (expected {})", case.name, case.expected));
                }
            }
            Err(e) => wrong.push(format!("{}: no request: {e}", case.name)),
        }
    }
    // The SDK's rules refuse FIPS with a custom endpoint rather than
    // silently ignoring one of them.
    let mut fips_and_endpoint = case(
        "FIPS with the endpoint option",
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
        ],
        "",
    );
    fips_and_endpoint.endpoint_option = Some("http://127.0.0.1:3333");
    match resolved(&runtime, &fips_and_endpoint) {
        Ok(uri) => wrong.push(format!("FIPS with a custom endpoint was sent to {uri}")),
        Err(e) => {
            println!("{:<55} refused: {e}", fips_and_endpoint.name);
            // A configuration error, not a passing network fault.
            if !(e.starts_with("Configuration(")
                && e.contains("FIPS and custom endpoint are not supported"))
            {
                wrong.push(format!("FIPS with a custom endpoint: unexpected error {e}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "wrong endpoints:\n{}", wrong.join("\n"));
}
