#!/usr/bin/env Rscript
# REML fits with lme4 of the group random-effect models on groups.covar/groups.pheno.
#
#   Rscript testdata/reference/vc_lme4/fit_lme4.R      # from the repository root
#
# lme4 profiles beta and sigma out of the REML criterion and optimizes only the
# relative covariance factor theta with a derivative-free optimizer.  Such an
# optimizer cannot place theta closer than ~sqrt(noise of the objective): with
# round-off ~1e-12 on a criterion ~3000 that is ~1e-7 relative (seen: 2e-7).  To
# get the reference well below 1e-6 each fit uses a custom optimizer (lme4 accepts
# any function(fn, par, lower, upper, control)):
#   "bobyqa_newton"     minqa::bobyqa (rhobeg 0.2, rhoend 1e-12), then Newton-Raphson
#                       on lme4's own profiled REML deviance fn(theta): gradient by
#                       Richardson-extrapolated central differences (h = 1e-3, error
#                       ~1e-9), Hessian by central differences, until max|step| < 1e-9
#                       (at most 8 steps).           <- the reference (lme4_fits.tsv)
#   "neldermead_newton" nloptr NLOPT_LN_NELDERMEAD (xtol_rel 1e-14, ftol 1e-16) with the
#                       same Newton polish.          <- cross-check
# Both raw optimizers (without the polish) are also run, for the record.
# Outputs: lme4_fits.tsv (%.12g) and lme4_optimizer_check.tsv (all four fits, %.17g,
# and the relative differences to the reference).
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

cov <- read.delim(file.path(here, "groups.covar"), colClasses = c(FID = "character",
                  IID = "character", household = "character", clinic = "character",
                  group = "character"))
phe <- read.delim(file.path(here, "groups.pheno"), colClasses = c(FID = "character",
                  IID = "character"), na.strings = "NA")
stopifnot(identical(cov$FID, phe$FID), identical(cov$IID, phe$IID))
d <- cbind(cov, phe[, c("y_cross", "y_slope")])
d$household <- factor(d$household); d$clinic <- factor(d$clinic); d$group <- factor(d$group)

# ------------------------------------------------------------ optimizers
BOBYQA_CTRL <- list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e6)
NM_CTRL <- list(algorithm = "NLOPT_LN_NELDERMEAD", xtol_rel = 1e-14, xtol_abs = 1e-14,
                ftol_rel = 1e-16, ftol_abs = 1e-16, maxeval = 1e6)
polish_log <- new.env()

newton_polish <- function(fn, x, lower, h = 1e-3, maxit = 8, tol = 1e-9) {
  k <- length(x); E <- diag(k); nf <- 0L
  f <- function(z) { nf <<- nf + 1L; fn(z) }
  grad <- function(x) vapply(seq_len(k), function(j) {
    D <- function(s) (f(x + s * E[, j]) - f(x - s * E[, j])) / (2 * s)
    (4 * D(h / 2) - D(h)) / 3 }, 0)
  hess <- function(x) {
    H <- matrix(0, k, k); f0 <- f(x)
    for (i in seq_len(k)) for (j in i:k) {
      H[i, j] <- H[j, i] <- if (i == j) (f(x + h * E[, i]) - 2 * f0 + f(x - h * E[, i])) / h^2 else
        (f(x + h * E[, i] + h * E[, j]) - f(x + h * E[, i] - h * E[, j]) -
         f(x - h * E[, i] + h * E[, j]) + f(x - h * E[, i] - h * E[, j])) / (4 * h^2)
    }
    H }
  if (any(x - h < lower)) stop("Newton polish: theta too close to its lower bound")
  steps <- numeric(0)
  for (it in seq_len(maxit)) {
    step <- -solve(hess(x), grad(x))
    if (max(abs(step)) > 1e-2) stop("Newton polish: step too large: ", max(abs(step)))
    x <- x + step; steps <- c(steps, max(abs(step)))
    if (max(abs(step)) < tol) break
  }
  list(par = x, steps = steps, grad = grad(x), nf = nf)
}

finish <- function(base, fn, lower, name) {
  p <- newton_polish(fn, base$par, lower)
  polish_log[[name]] <- list(raw = base$par, pol = p)
  list(par = p$par, fval = fn(p$par), conv = 0L, feval = base$feval + p$nf,
       message = sprintf("%s + Newton (%d steps)", name, length(p$steps)))
}
bobyqa_newton <- function(fn, par, lower = -Inf, upper = Inf, control = list()) {
  o <- minqa::bobyqa(par, fn, lower = lower, upper = upper, control = BOBYQA_CTRL)
  if (o$ierr != 0) stop("bobyqa: ", o$msg)
  finish(list(par = o$par, feval = o$feval), fn, lower, "bobyqa")
}
neldermead_newton <- function(fn, par, lower = -Inf, upper = Inf, control = list()) {
  o <- nloptwrap(par, fn, lower = lower, upper = upper, control = NM_CTRL)
  finish(list(par = o$par, feval = o$feval), fn, lower, "neldermead")
}

ctrl <- list(
  bobyqa_newton     = lmerControl(optimizer = "bobyqa_newton"),
  neldermead_newton = lmerControl(optimizer = "neldermead_newton"),
  bobyqa_raw        = lmerControl(optimizer = "bobyqa", optCtrl = BOBYQA_CTRL),
  neldermead_raw    = lmerControl(optimizer = "nloptwrap", optCtrl = NM_CTRL))

models <- list(
  M1 = list(f = y_cross ~ x + (1 | household) + (1 | clinic), y = "y_cross"),
  M2 = list(f = y_slope ~ e + (1 + e | group),                y = "y_slope"),
  M3 = list(f = y_slope ~ e + (1 | group),                    y = "y_slope"),
  M4 = list(f = y_cross ~ x + (1 | household),                y = "y_cross"))

extract <- function(name, fit) {
  rows <- list()
  add <- function(kind, term, value) rows[[length(rows) + 1]] <<- data.frame(
    model = name, kind = kind, term = term, value = value, stringsAsFactors = FALSE)
  vc <- as.data.frame(VarCorr(fit))           # columns grp var1 var2 vcov sdcor
  for (i in seq_len(nrow(vc))) {
    g <- vc$grp[i]
    if (g == "Residual") { add("residual", "Residual", vc$vcov[i]); next }
    nterms <- sum(vc$grp == g & is.na(vc$var2))
    if (!is.na(vc$var2[i])) add("covariance", paste0(g, ":cov"), vc$vcov[i])
    else if (nterms == 1) add("variance", g, vc$vcov[i])
    else add("variance", paste0(g, ":", vc$var1[i]), vc$vcov[i])
  }
  fe <- fixef(fit)
  for (k in names(fe)) add("fixed", k, fe[[k]])
  ll <- as.numeric(logLik(fit, REML = TRUE))
  add("loglik", "REML", ll)
  add("reml_criterion", "REML", -2 * ll)
  add("n", "obs", nobs(fit))
  ng <- ngrps(fit)
  for (g in names(ng)) add("n", paste0("levels:", g), ng[[g]])
  do.call(rbind, rows)
}

g17 <- function(v) sprintf("%.17g", v)
out <- list(); chk <- list()
for (name in names(models)) {
  m <- models[[name]]
  dd <- d[!is.na(d[[m$y]]), ]
  fits <- lapply(ctrl, function(cc) lmer(m$f, data = dd, REML = TRUE, control = cc))
  for (fn in names(fits)) {
    stopifnot(isREML(fits[[fn]]))
    msgs <- fits[[fn]]@optinfo$conv$lme4$messages
    if (length(msgs)) cat(name, fn, "lme4 convergence messages:", paste(msgs, collapse = "; "), "\n")
  }
  # the Newton log of the reference fit (bobyqa_newton ran first)
  pl <- polish_log[["bobyqa"]]$pol
  rows <- lapply(fits, function(f) extract(name, f))
  ref <- rows$bobyqa_newton
  for (fn in names(rows)) stopifnot(identical(rows[[fn]]$term, ref$term))
  rel <- function(v) abs(v - ref$value) / pmax(abs(ref$value), 1e-300)
  est <- ref$kind != "n"
  cat(sprintf("%s: n=%d theta=%s\n    Newton steps after bobyqa: %s; |grad| at end %.2g\n",
              name, nobs(fits$bobyqa_newton),
              paste(sprintf("%.12g", getME(fits$bobyqa_newton, "theta")), collapse = ","),
              paste(sprintf("%.1e", pl$steps), collapse = " "), max(abs(pl$grad))))
  cat(sprintf("    max rel diff to bobyqa_newton: neldermead_newton %.2g | bobyqa_raw %.2g | neldermead_raw %.2g\n",
              max(rel(rows$neldermead_newton$value)[est]), max(rel(rows$bobyqa_raw$value)[est]),
              max(rel(rows$neldermead_raw$value)[est])))
  # lme4's REML criterion from its components (Bates et al. 2015, J Stat Softw 67(1), eq. 42)
  f1 <- fits$bobyqa_newton; cmp <- getME(f1, "devcomp")$cmp
  n <- nobs(f1); p <- length(fixef(f1)); ll <- logLik(f1, REML = TRUE)
  crit <- cmp[["ldL2"]] + cmp[["ldRX2"]] + (n - p) * (1 + log(2 * pi * cmp[["pwrss"]] / (n - p)))
  cat(sprintf(paste0("    ldL2 + ldRX2 + (n-p)(1 + log(2 pi pwrss/(n-p))) - REMLcrit(fit) = %.3g;",
                     " -2 logLik(fit) - REMLcrit(fit) = %.3g; logLik df = %d;",
                     " sigma^2 - pwrss/(n-p) = %.3g\n"),
              crit - REMLcrit(f1), -2 * as.numeric(ll) - REMLcrit(f1), attr(ll, "df"),
              sigma(f1)^2 - cmp[["pwrss"]] / (n - p)))
  out[[name]] <- ref
  chk[[name]] <- data.frame(model = name, kind = ref$kind, term = ref$term,
    bobyqa_newton = g17(ref$value),
    neldermead_newton = g17(rows$neldermead_newton$value),
    rel_nm_newton = sprintf("%.2g", rel(rows$neldermead_newton$value)),
    bobyqa_raw = g17(rows$bobyqa_raw$value),
    rel_bobyqa_raw = sprintf("%.2g", rel(rows$bobyqa_raw$value)),
    neldermead_raw = g17(rows$neldermead_raw$value),
    rel_nm_raw = sprintf("%.2g", rel(rows$neldermead_raw$value)), stringsAsFactors = FALSE)
}
res <- do.call(rbind, out)
res$value <- sprintf("%.12g", res$value)
write.table(res, file.path(here, "lme4_fits.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(do.call(rbind, chk), file.path(here, "lme4_optimizer_check.tsv"), sep = "\t",
            quote = FALSE, row.names = FALSE)
