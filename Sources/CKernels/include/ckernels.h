#pragma once
// Placeholder until the kernels land.
int pk_placeholder(void);
