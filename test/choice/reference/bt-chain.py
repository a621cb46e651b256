"""
An independent fit of the regularised Bradley-Terry model on the PrefLib profile
`100000: 1,2,3,4,5,6,7,8` (one order, 100,000 voters): alternative i beats j (i < j) 100,000
times, and each alternative has one virtual win and one virtual loss against an opponent of
log-strength 0 (civitas' prior "auto" when the MLE does not exist).

Not civitas' method: the stationarity equations of the regularised log-likelihood,

    0 = sum_{j>i} n sigma(t_j - t_i) - sum_{j<i} n sigma(t_i - t_j) + 1 - 2 sigma(t_i),

solved in 50-digit arithmetic by mpmath.findroot (secant/MDNewton on the equations, not the
likelihood), started at the leading-order solution derived by hand: for gaps d_k = t_k - t_{k+1}
much larger than 1 the equations read n e^{-d_k} - n e^{-d_{k-1}} = 1 for the top half, so
n e^{-d_k} = k, d_k = ln(n / k), mirrored in the bottom half (the profile is symmetric under
reversing the order and negating every t). The equations have one solution, the regularised
objective being strictly concave.

    python3 test/choice/reference/bt-chain.py     # mpmath 1.3.0
"""
from mpmath import mp, mpf, exp, log, findroot

mp.dps = 50
n = mpf(100000)
m = 8


def sigma(x):
    return 1 / (1 + exp(-x))


def equations(*t):
    out = []
    for i in range(m):
        g = 1 - 2 * sigma(t[i])
        for j in range(m):
            if j > i:
                g += n * sigma(t[j] - t[i])
            elif j < i:
                g -= n * sigma(t[i] - t[j])
        out.append(g)
    return out


gaps = [log(n / k) for k in (1, 2, 3, 4, 3, 2, 1)]
start = [sum(gaps[i:]) for i in range(m)]
shift = sum(start) / m
start = [x - shift for x in start]
t = findroot(equations, start, tol=mpf(10) ** -40)
for x in t:
    print(mp.nstr(x, 20))
print("max |equation|:", mp.nstr(max(abs(e) for e in equations(*t)), 5))
