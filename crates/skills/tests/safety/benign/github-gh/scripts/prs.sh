#!/bin/sh
GH_TOKEN="$GITHUB_TOKEN" gh pr list --json number,title
