/** The commented example civitas.yaml that `civitas init` writes (it validates: test/config/). */
export const EXAMPLE_CONFIG = `# civitas.yaml: several models on several surveys, compared.
#   civitas eval --config civitas.yaml             run every (model x suite) cell, print the comparison
#   civitas eval --config civitas.yaml --dry-run   what would be asked, what is stored, tokens and cost
#   civitas eval --config civitas.yaml --html comparison.html
# Every cell is an ordinary run (its own id in the store, resumed when run again). Paths are
# relative to this file. Flags on the command line override the values here (docs/config.md).

models:
  # A local GGUF file, run in-process by llama.cpp (keys: threads, parallel, context-size, gpu,
  # chat-template, system).
  - model: llama:models/qwen2.5-0.5b-instruct-q4_k_m.gguf
    name: qwen-0.5b            # how the comparison names it (default: the model string)
    threads: 2
    chat-template: auto

  # A model behind an OpenAI-compatible server (vLLM, llama-server, Ollama, a hosted API).
  # The API key is read from the environment variable named here; never write the key itself.
  - model: openai:gpt-4o-mini
    base-url: https://api.openai.com/v1
    api-key-env: OPENAI_API_KEY
    api: chat                  # chat or completions (base models on vLLM)
    concurrency: 4
    timeout: 60                # seconds per request
    retries: 6
    price:                     # per million tokens, for the cost --dry-run prints
      input: 0.15
      output: 0.60

  # The same server address for several models is fine; cells on different backends run side by side.
  # - model: vllm:Qwen/Qwen2.5-7B
  #   base-url: http://localhost:8000/v1
  #   model-id: qwen2.5-7b-base

suites:
  - name: opinionqa
    # data: ../data/opinionqa   # a local copy (default: downloaded once into the cache)
    populations: [POLPARTY, SEX]
  - name: globalopinions
    populations: [country=Japan, country=Germany]

# Defaults for every suite that names none of its own; with several suites each takes the ones it has.
# populations: [overall]

limit: 50                      # questions per suite (the first that a chosen population can be scored on)
methods: [logprobs]            # logprobs, sample, verbalize, sequence; the first is the headline
# samples: 20                  # completions per question for sample
# variants: rnr8               # presentation variants, and a stability verdict per model
# protocol: santurkar2023      # a paper's conventions
seeds: [0]                     # one cell per model x suite x seed
# store: .civitas/civitas.duckdb
`;
